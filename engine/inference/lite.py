"""The torch-free predictor: pre-converted OpenVINO models, numpy and OpenCV (the CPU edition).

`LitePredictor` reads folders written by `engine.inference.backends.export_ir` (each checked
against its SHA-256s first, `ir_files.read_ir`) and answers as `engine.inference.predict.Predictor`
does (`predict`, `predict_matte`, `predict_checked`, `label`) with the same steps
(`engine.inference.arrays`: the input geometry, the resize and padding, the normalisation, the
bilinear upsampling, the edge refiner's tiling, the threshold; `engine.inference.matting`: the
vote, the main car, the soft alpha, the confidence), run on OpenVINO's CPU plugin in float32
(`openvino_core`). It never imports torch (an import-linter contract, and
tests/engine/test_lite_predict.py checks `sys.modules`): what needs torch (training, fine-tuning,
CUDA, converting a model file) needs the full edition.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from engine.inference.arrays import (
    fit_to_input,
    input_geometry,
    normalise,
    refine_tiles,
    sigmoid,
    upsample,
)
from engine.inference.backends.ir_files import IRModel, read_ir
from engine.inference.backends.openvino_core import Network, cpu_config
from engine.inference.matting import MattePredictor

__all__ = ["LiteModel", "LitePredictor"]
log = logging.getLogger(__name__)


class LiteModel:
    """One pre-converted model, compiled: its checked files (`ir`) and its networks."""

    def __init__(self, ir: IRModel, config: dict):
        self.ir, self.header = ir, ir.header
        self.unet = Network.load(ir.unet_xml, config)
        self.refiner = Network.load(ir.refiner_xml, config) if ir.refiner is not None else None


def default_threads() -> int:
    """OMP_NUM_THREADS where it is set (as PyTorch reads it), else every CPU this process has."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def cpu_device_label(threads: int) -> str:
    """What the CPU edition runs on, as the window and the CLI say it."""
    return f"CPU ({threads} thread{'s' if threads != 1 else ''}), OpenVINO, float32"


class LitePredictor(MattePredictor):
    """One pre-converted model or an ensemble of them, on the CPU, without torch."""

    def __init__(
        self,
        folders: Sequence[str | os.PathLike],
        tta: bool = False,
        vote: str = "majority",
        refine: bool = True,
        threads: int | None = None,
        keep_all_objects: bool = False,
    ):
        if not folders:
            raise ValueError("at least one model is needed")
        self.tta, self.vote, self.refine = tta, vote, refine
        self.keep_all_objects = keep_all_objects
        self.threads = int(threads or default_threads())
        config = cpu_config("f32", self.threads, 1)
        checked = [read_ir(f) for f in folders]  # every file checked before any is compiled
        self.models = [LiteModel(ir, config) for ir in checked]
        self.device_label = cpu_device_label(self.threads)
        names = ", ".join(m.header.name for m in self.models)
        log.info("predicting on %s with %s (no PyTorch)", self.device_label, names)

    def full_size_logits(self, lm: LiteModel, rgb: np.ndarray) -> np.ndarray:
        """One model's float32 H×W logits for the photo at its full size (refined if it has a
        refiner and `refine` is on): `Predictor.full_size_logits` without torch."""
        x, content = self.prepare(lm, rgb)
        logits = self.upsample(self.forward(lm, x, content), rgb.shape[:2])
        return self.refine_edges(lm, rgb, logits)

    def prepare(self, lm: LiteModel, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The network's normalised 1×3×h×w input (aspect kept, padded to the stride) and the
        content's (h, w) within it."""
        content, padded = input_geometry(rgb.shape[:2], lm.header.input_size, lm.ir.stride)
        return normalise(fit_to_input(rgb, content, padded), lm.ir.mean, lm.ir.std), content

    def forward(self, lm: LiteModel, x: np.ndarray, content: tuple[int, int]) -> np.ndarray:
        """The U-Net's float32 h×w logits, cropped to the content (with `tta`, averaged with the
        mirrored photo's)."""
        logits = lm.unet(x)
        if self.tta:
            logits = np.float32(0.5) * (logits + lm.unet(x[..., ::-1])[..., ::-1])
        h, w = content
        return np.ascontiguousarray(logits[0, 0, :h, :w], dtype=np.float32)

    @staticmethod
    def upsample(logits: np.ndarray, full: tuple[int, int]) -> np.ndarray:
        return upsample(logits, full)

    def refine_edges(self, lm: LiteModel, rgb: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """The full-size logits refined along the edge when the model has a refiner."""
        tiling = lm.ir.refiner
        if not (self.refine and tiling is not None and lm.refiner is not None):
            return logits
        return refine_tiles(rgb, logits, lm.refiner, tiling.tile, tiling.margin, tiling.band)

    def logits(self, rgb: np.ndarray) -> np.ndarray:
        return self.full_size_logits(self.models[0], rgb)

    def probabilities(self, rgb: np.ndarray) -> list[np.ndarray]:
        return [sigmoid(self.full_size_logits(lm, rgb)) for lm in self.models]
