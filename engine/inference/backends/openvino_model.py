"""A model's U-Net and edge refiner run by OpenVINO on the CPU.

`convert` traces the PyTorch networks with OpenVINO's converter (no ONNX step: `ov.convert_model`
takes the module) with free height and width (photos of any aspect ratio, refiner tiles in any
number), and saves them in OpenVINO's IR (XML + weights) in float32. `OpenVinoModel` compiles
them for this CPU with the thread count PyTorch uses, in float32 or bfloat16
(`engine.inference.devices`'
precision: bfloat16 only where it is asked for or the CPU has it natively), and reports the
precision the compiled model really uses.

Several photos at once (the batch's lanes, `engine.inference.pipeline.Lanes`) run OpenVINO's own
way: one
compiled model per network and per process, shared by every lane's `OpenVinoModel`, with a
stream per lane (`NUM_STREAMS`, each on the lane's threads) and an `InferRequest` per call
running at once, started with `start_async` and awaited with `wait`, which releases the GIL. Two
compiled models first called at the same instant from two threads (`CompiledModel.__call__`, its
one shared request behind a Python lock) hung the batch for ever, now and then, on a loaded
machine; the first inference of a compiled model now runs on the thread that loads it, before
any lane starts (tests/engine/test_openvino_threads.py runs hundreds of first calls from two
threads, each process bounded in time).
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
import weakref
from pathlib import Path

import torch
from torch import nn

from engine.inference.backends.openvino_core import Network, cpu_config, shared_core

UNET, REFINER = "unet.xml", "refiner.xml"
CONVERTER_VERSION = 2  # bump when the cache entries change: old entries are rebuilt (2: digests)
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


def _file_keys(folder: Path) -> tuple:
    """What identifies the files a network is compiled from (a rebuilt cache entry differs)."""
    keys = []
    for name in sorted(p.name for p in folder.iterdir() if p.suffix in (".xml", ".bin")):
        st = (folder / name).stat()
        keys.append((name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(keys)


class _Network:
    """A compiled network (`openvino_core.Network`) called with torch tensors."""

    def __init__(self, network: Network):
        self.network = network

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.network(*(t.detach().float().numpy() for t in inputs)))


class _Compiled:
    """A model file's compiled networks, shared by the `OpenVinoModel`s of every lane."""

    def __init__(self, folder: Path, dtype: torch.dtype, threads: int, streams: int):
        config = cpu_config(PRECISIONS[dtype], threads, streams)
        self.unet = _Network(Network.load(folder / UNET, config))
        self.refiner = None
        if (folder / REFINER).is_file():
            self.refiner = _Network(Network.load(folder / REFINER, config))
        # what the CPU really runs (a bf16 hint on a CPU without bf16 gives float32)
        self.dtype = PRECISION_DTYPES.get(self.unet.network.precision, dtype)


@functools.cache
def streams_that_fit(threads: int) -> int:
    """How many streams of `threads` threads each OpenVINO runs at once on this CPU: as many
    lanes of that size as its cores hold (a stream costs nothing until a request uses it).
    OpenVINO caps streams and threads at the cores it uses; a stream never gets fewer threads
    than asked for."""
    import openvino as ov
    from openvino import opset13 as ops

    threads = max(1, int(threads))
    wanted = max(1, _cpus() // threads)
    x = ops.parameter([1], ov.Type.f32)
    config = {"NUM_STREAMS": wanted, "INFERENCE_NUM_THREADS": wanted * threads}
    probe = shared_core().compile_model(ov.Model([ops.relu(x)], [x]), "CPU", config)
    streams = int(probe.get_property("NUM_STREAMS"))
    return max(1, min(streams, int(probe.get_property("INFERENCE_NUM_THREADS")) // threads))


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


_compiled: weakref.WeakValueDictionary[tuple, _Compiled] = weakref.WeakValueDictionary()
_compiled_lock = threading.Lock()


class OpenVinoModel:
    """The compiled networks of one model file (shared with the other lanes' copies of the same
    file); any number of threads may call it at once."""

    name = "openvino"

    def __init__(
        self,
        folder: Path,
        dtype: torch.dtype,
        threads: int,
        streams: int = 1,
        warm_up: tuple[int, int] = (64, 0),
    ):
        """`streams`: how many inferences may run at once, each on `threads` threads;
        `warm_up`: the U-Net input side (a multiple of its stride) and the refiner's tile side
        (0: none) of the first inference, run here, on the loading thread."""
        if dtype not in PRECISIONS:
            raise ValueError(f"OpenVINO runs float32 or bfloat16 here, not {dtype}")
        folder = Path(folder).resolve()
        key = (str(folder), _file_keys(folder), PRECISIONS[dtype], int(threads), int(streams))
        with _compiled_lock:
            networks = _compiled.get(key)
            if networks is None:
                networks = _Compiled(folder, dtype, threads, streams)
                side, tile = warm_up
                networks.unet(torch.zeros(1, 3, side, side))
                if networks.refiner is not None and tile:
                    networks.refiner(torch.zeros(1, 3, tile, tile), torch.zeros(1, 1, tile, tile))
                _compiled[key] = networks
        self._networks = networks  # held: the compiled models live as long as a lane uses them
        self.dtype = networks.dtype
        self.threads = int(threads)  # what it was compiled for, per stream

    @property
    def has_refiner(self) -> bool:
        return self._networks.refiner is not None

    def unet(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised 1×3×H×W float32 (H, W multiples of the stride) → 1×1×H×W logits."""
        return self._networks.unet(x)

    def refiner_interior(self, photo: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """`EdgeRefiner.forward_interior` on N tiles (N×3×s×s photo, N×1×s×s logits)."""
        assert self._networks.refiner is not None
        return self._networks.refiner(photo, logits)
