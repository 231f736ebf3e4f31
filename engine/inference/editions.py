"""Which predictor this installation builds: the full edition's (PyTorch: CUDA, training, any
model file) or the CPU edition's (no PyTorch: the shipped models pre-converted for OpenVINO).

The CPU edition is the same code without torch installed (`packaging/build.py --edition cpu`
leaves it out and converts the shipped models into `resources/converted/<model>/` at build
time). `predictor_from_config` is where every batch, hot folder and cluster stage gets its
predictor; with torch it is `Predictor.from_config`, without it a `LitePredictor` on the
converted folders of the model files asked for. A model file with no converted folder, CUDA,
the torch backend, training and fine-tuning are refused with `NeedsFullEdition`, a message that
names what asked and what to install. This module never imports torch itself.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.inference.backends.cache import SOURCE
from engine.inference.backends.ir_files import NEEDS_FULL_EDITION, IRFileError
from engine.inference.config import Backend, PredictConfig
from engine.io.digest import file_digest
from engine.modelfiles.library import resources_dir

if TYPE_CHECKING:  # OpenVINO is loaded when a predictor is built, not at the window's start
    from engine.inference.lite import LitePredictor
    from engine.inference.matting import MattePredictor

FULL_EDITION = (
    "the full edition of CarMask Studio (with PyTorch); this is the CPU edition, which segments "
    "with the shipped models only"
)
CONVERTED_ENV = "CARMASK_CONVERTED_MODELS"  # more folders of converted models (os.pathsep)


class NeedsFullEdition(RuntimeError):
    """What was asked needs PyTorch, which the CPU edition leaves out."""

    def __init__(self, what: str):
        super().__init__(f"{what} needs {FULL_EDITION}")
        self.what = what


@functools.cache  # an installation does not change while it runs: asked once per process
def has_torch() -> bool:
    """Whether PyTorch is installed (the full edition), without importing it."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:  # an import hook that refuses it
        return False


def edition() -> str:
    return "full" if has_torch() else "cpu"


def require_torch(what: str) -> None:
    """Raise `NeedsFullEdition` naming `what` (training, fine-tuning, ...) in the CPU edition."""
    if not has_torch():
        raise NeedsFullEdition(what)


def converted_dirs() -> list[Path]:
    """Where converted models are looked for: CARMASK_CONVERTED_MODELS's folders, then the
    ones shipped with the program."""
    extra = [Path(p) for p in os.environ.get(CONVERTED_ENV, "").split(os.pathsep) if p]
    return [*extra, resources_dir() / "converted"]


def converted_folder(model: str | os.PathLike) -> Path:
    """The pre-converted folder for `model`: the folder itself when it is one, else the folder
    converted from exactly this file (same name and SHA-256). `IRFileError` naming the model
    file when there is none: converting needs the full edition."""
    model = Path(model)
    if model.is_dir():
        return model
    if not model.is_file():
        raise IRFileError(model, "no such model file")
    digest = None
    for root in converted_dirs():
        folder = root / model.stem
        try:
            sidecar = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        digest = digest or file_digest(model)
        if isinstance(sidecar, dict) and sidecar.get("source_sha256") == digest:
            return folder
    raise IRFileError(model, NEEDS_FULL_EDITION)


def lite_from_config(config: PredictConfig, threads: int | None = None) -> LitePredictor:
    """The CPU edition's predictor for `config`; what needs torch is refused by name."""
    from engine.inference.lite import LitePredictor

    if str(config.device).startswith("cuda"):
        raise NeedsFullEdition("a CUDA GPU (--device cuda)")
    if config.backend == Backend.TORCH:
        raise NeedsFullEdition("the PyTorch backend (--backend torch)")
    return LitePredictor(  # every file checked by its SHA-256 before any is compiled
        [converted_folder(m) for m in config.models],
        tta=config.tta,
        vote=str(config.vote),
        refine=config.refine,
        threads=threads,
        keep_all_objects=config.keep_all_objects,
    )


def predictor_from_config(config: PredictConfig, threads: int | None = None) -> MattePredictor:
    """The predictor this installation builds for `config` (see the module's note). `threads`
    applies to the CPU edition's (torch's are set process-wide: `lanes.share_threads`)."""
    if has_torch():
        from engine.inference.predict import Predictor

        return Predictor.from_config(config)
    return lite_from_config(config, threads)


def describe_device_choice(device: str) -> str:
    """What `device` ("auto", "cpu", "cuda[:N]") runs on, for the status bar: torch's device
    label, or in the CPU edition the CPU's threads and OpenVINO (CUDA: `NeedsFullEdition`)."""
    if has_torch():
        from engine.inference.devices import describe_device, resolve_device

        return describe_device(resolve_device(device))
    from engine.inference.lite import cpu_device_label

    if str(device).startswith("cuda"):
        raise NeedsFullEdition("a CUDA GPU")
    return cpu_device_label(cpu_threads())


def cpu_threads() -> int:
    """The threads a batch shares among its lanes."""
    from engine.inference.lite import default_threads

    if has_torch():
        import torch

        return torch.get_num_threads()
    return default_threads()


def share_threads(lanes: int) -> tuple[int | None, Callable[[], None]]:
    """Each of `lanes` lanes' share of the threads, and a function that gives them back (torch's
    are process-wide: set now, given back after the batch; the CPU edition's are per predictor)."""
    if not has_torch():
        return max(1, cpu_threads() // lanes), lambda: None
    import torch

    threads = torch.get_num_threads()
    if lanes > 1:
        torch.set_num_threads(max(1, threads // lanes))
    return None, lambda: torch.set_num_threads(threads)
