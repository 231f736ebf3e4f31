"""A model's U-Net and edge refiner run by OpenVINO on the CPU.

`convert` traces the PyTorch networks with OpenVINO's converter (no ONNX step: `ov.convert_model`
takes the module) with free height and width (photos of any aspect ratio, refiner tiles in any
number), and saves them in OpenVINO's IR (XML + weights) in float32. `OpenVinoModel` compiles
them for this CPU with the thread count PyTorch uses, in float32 or bfloat16 (`engine.devices`'
precision: bfloat16 only where it is asked for or the CPU has it natively), and reports the
precision the compiled model really uses.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import torch
from torch import nn

UNET, REFINER = "unet.xml", "refiner.xml"
CONVERTER_VERSION = 1  # bump when `convert` changes what it writes: old entries are rebuilt
PRECISIONS = {torch.float32: "f32", torch.bfloat16: "bf16"}
PRECISION_DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def cache_key() -> str:
    import openvino as ov

    return f"openvino{ov.get_version().split('-')[0]}-torch{torch.__version__}-v{CONVERTER_VERSION}"


class _RefinerInterior(nn.Module):
    """`EdgeRefiner.forward_interior` as a module's forward (what the converter traces)."""

    def __init__(self, refiner: nn.Module):
        super().__init__()
        self.refiner = refiner

    def forward(self, photo: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return self.refiner.forward_interior(photo, logits)


def convert(unet: nn.Module, input_hw: tuple[int, int], folder: Path) -> None:
    """Save `unet` (and its refiner, if any) as OpenVINO IR in `folder` (float32 weights)."""
    import openvino as ov

    unet = unet.cpu().float().eval()
    # The tracer warns that the U-Net's and the encoder's "same" padding become constants: they
    # are, for any input whose sides are multiples of the stride (what `Predictor` feeds it:
    # `input_geometry`), and tests/engine/test_backends.py checks photos of other aspect ratios.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)  # the converter's own use of jit.trace
        x = torch.zeros(1, 3, *input_hw)
        model = ov.convert_model(unet, example_input=x, input=[ov.PartialShape([1, 3, -1, -1])])
        ov.save_model(model, folder / UNET, compress_to_fp16=False)
        refiner = getattr(unet, "refiner", None)
        if refiner is not None:
            size = refiner.tile + 2 * refiner.margin
            example = (torch.zeros(2, 3, size, size), torch.zeros(2, 1, size, size))
            shapes = [ov.PartialShape([-1, 3, -1, -1]), ov.PartialShape([-1, 1, -1, -1])]
            model = ov.convert_model(_RefinerInterior(refiner), example_input=example, input=shapes)
            ov.save_model(model, folder / REFINER, compress_to_fp16=False)


_core = None
_core_lock = threading.Lock()


def _shared_core():
    """One OpenVINO Core for the whole process, never released. Its CPU plugin installs an
    alternate signal stack on the thread that first compiles; with a Core per model, releasing
    them out of order left the thread pointing at freed memory, and the next Ctrl-C (SIGINT)
    killed the process with a segmentation fault (tests/engine/test_backends.py)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino as ov

            _core = ov.Core()
        return _core


class OpenVinoModel:
    """The compiled networks of one model file; calls are serialised (one request each)."""

    name = "openvino"

    def __init__(self, folder: Path, dtype: torch.dtype, threads: int):
        if dtype not in PRECISIONS:
            raise ValueError(f"OpenVINO runs float32 or bfloat16 here, not {dtype}")
        core = _shared_core()
        config = {
            "INFERENCE_NUM_THREADS": int(threads),
            "INFERENCE_PRECISION_HINT": PRECISIONS[dtype],
            "PERFORMANCE_HINT": "LATENCY",
            # OpenVINO pins its threads, the calling one included, to cores: the batch's reader
            # and writer threads then queue behind them, and the calling thread stays pinned
            # for torch's work too. Unpinned, writing a photo while the next is segmented
            # overlaps (benchmarks/pipeline.py).
            "ENABLE_CPU_PINNING": False,
        }
        self._unet = core.compile_model(core.read_model(folder / UNET), "CPU", config)
        self._refiner = None
        if (folder / REFINER).is_file():
            self._refiner = core.compile_model(core.read_model(folder / REFINER), "CPU", config)
        used = self._unet.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        # what the CPU really runs (a bf16 hint on a CPU without bf16 gives float32)
        self.dtype = PRECISION_DTYPES.get(used, dtype)
        self._lock = threading.Lock()
        self.threads = int(threads)  # what it was compiled for

    @property
    def has_refiner(self) -> bool:
        return self._refiner is not None

    def unet(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised 1×3×H×W float32 (H, W multiples of the stride) → 1×1×H×W logits."""
        with self._lock:
            out = self._unet([x.detach().float().contiguous().numpy()])[0]
            return torch.from_numpy(out.copy())  # the request's buffer is reused by the next call

    def refiner_interior(self, photo: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """`EdgeRefiner.forward_interior` on N tiles (N×3×s×s photo, N×1×s×s logits)."""
        assert self._refiner is not None
        inputs = [t.detach().float().contiguous().numpy() for t in (photo, logits)]
        with self._lock:
            return torch.from_numpy(self._refiner(inputs)[0].copy())
