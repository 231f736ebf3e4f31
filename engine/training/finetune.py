"""Fine-tuning support for the wizard: the training child's command line, a time estimate
measured on the machine, base-versus-new comparison on held-out photos, and installing the
result into the user's model library.

torch, cv2 and the model code are imported inside the functions that run on a worker (measure,
compare, install_model): the wizard's pages import this module on the UI thread.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.modelfiles.library import user_library_dir
from engine.models.config import hw
from engine.training.config import TRAIN_CHILD_FLAG, TrainConfig, step_plan
from engine.training.metrics import dice
from engine.training.pairs import Pair, load_pair

STARTUP_SECONDS = 8.0  # child start: importing torch, loading the model, the first batch
LR_ALL, LR_DECODER = 3e-4, 1e-3  # AdamW with a cosine schedule, from the base model's weights


def finetune_config(
    init_from: str | Path,
    decoder_only: bool = False,
    input_size: tuple[int, int] | None = None,
    epochs: int = 10,
    batch_size: int = 8,
    device: str = "auto",
    threads: int = 0,
    name: str = "",
) -> TrainConfig:
    """The fine-tuning recipe the wizard and `benchmarks/finetune_shift.py` share: start from a
    model file, all layers (or the decoder alone) with AdamW and a cosine schedule, at the base
    model's input size unless another is given."""
    return TrainConfig(
        name=name,
        init_from=str(init_from),
        pretrained=None,
        freeze_encoder=decoder_only,
        size_from_base=input_size is None,
        input_size=hw(input_size) if input_size else (1024, 1024),
        epochs=epochs,
        batch_size=batch_size,
        optimizer="adamw",
        lr=LR_DECODER if decoder_only else LR_ALL,
        schedule="cosine",
        device=device,
        threads=threads,
        resume=False,
    )


def child_command(config_path: str | Path) -> list[str]:
    """The command that runs `engine.train` as a child process streaming JSON events.

    A PyInstaller bundle has no `python -m`: its console CLI (`carmask`, beside the GUI's
    executable) answers `--engine-train`. The console one, since a windowed executable has no
    standard output on Windows; QProcess starts it without a console window."""
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable)
        cli = exe.with_name("carmask" + exe.suffix)
        return [str(cli if cli.is_file() else exe), TRAIN_CHILD_FLAG, "--config", str(config_path)]
    return [sys.executable, "-m", "engine.train", "--config", str(config_path)]


# -- time estimate ---------------------------------------------------------------------------


@dataclass
class Estimate:
    step_seconds: float
    steps: int
    photo_seconds: float  # one validation photo at full size
    val_photos: int
    epochs: int
    device: str

    @property
    def total_seconds(self) -> float:
        validation = self.epochs * self.val_photos * self.photo_seconds
        return STARTUP_SECONDS + self.steps * self.step_seconds + validation


def steps_for(cfg: TrainConfig, train_photos: int) -> int:
    """Optimizer steps a run will make."""
    return step_plan(cfg, train_photos)[2]


FULL_SIZE = (1280, 1918)  # (h, w) of a studio shot: the photo size validation is timed at


def timing_key(cfg: TrainConfig, train_photos: int, photo_size=FULL_SIZE) -> tuple:
    """What the measured times depend on: the same key, the same times (epochs, learning rate
    or the validation share change the estimate, not the measurement)."""
    return (
        cfg.init_from,
        cfg.arch,
        tuple(cfg.input_size),
        step_plan(cfg, train_photos)[0],
        cfg.device,
        cfg.amp,
        cfg.freeze_encoder,
        cfg.optimizer,
        tuple(photo_size),
    )


@dataclass(frozen=True)
class Timing:
    step_seconds: float
    photo_seconds: float  # one validation photo at full size
    device: str

    def estimate(self, cfg: TrainConfig, train_photos: int, val_photos: int) -> Estimate:
        steps = steps_for(cfg, train_photos)
        return Estimate(
            self.step_seconds, steps, self.photo_seconds, val_photos, cfg.epochs, self.device
        )


MEASURE_STAGES = 5  # the model set up, a warm-up step, timed steps, a warm-up and a timed photo


def measure(
    cfg: TrainConfig,
    train_photos: int,
    photo_size=FULL_SIZE,
    repeats=2,
    progress: Callable[[int, int], None] | None = None,
) -> Timing:
    """Time a few real training steps and one full-size prediction of this configuration on
    this machine (random pixels: the time does not depend on them). `progress(done, total)`
    after each of its stages (an exception it raises ends the measurement there)."""
    import torch

    from engine.training.trainer import Trainer

    stages = iter(range(1, MEASURE_STAGES + 1))

    def stage_done() -> None:
        if progress:
            progress(next(stages), MEASURE_STAGES)

    probe = TrainConfig(**{**cfg.to_dict(), "train_pairs": [], "val_pairs": []})
    dummy = Pair(Path("probe.jpg"), Path("probe.png"), "probe")
    trainer = Trainer(probe, train_pairs=[dummy], val_pairs=[])
    model, _, opt, amp, loss_fn = trainer._setup()
    bs = step_plan(probe, train_photos)[0]
    h, w = probe.input_size
    x = torch.rand(bs, 3, h, w)
    y = (torch.rand(bs, 1, h, w) > 0.5).float()
    stage_done()

    def step() -> float:
        t0 = time.perf_counter()
        trainer.train_step(model, opt, amp, loss_fn, x, y)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    step()  # warm-up
    stage_done()
    step_s = statistics.median(step() for _ in range(repeats))
    stage_done()
    model.eval()
    predictor = trainer.predictor(model)
    photo = np.zeros((*photo_size, 3), np.uint8)
    predictor.predict(photo)
    stage_done()
    t0 = time.perf_counter()
    predictor.predict(photo)
    timing = Timing(step_s, time.perf_counter() - t0, trainer.device_label)
    stage_done()
    return timing


# -- base versus new -------------------------------------------------------------------------


@dataclass
class Example:
    pair: Pair
    dice: list[float]
    views: list[np.ndarray]  # per model: the photo with its errors marked (preview size, RGB)


@dataclass
class Comparison:
    names: list[str]
    pairs: list[Pair] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)  # per photo, per model
    examples: list[Example] = field(default_factory=list)  # where the models differ most

    def mean(self, model: int) -> float:
        return float(np.mean([s[model] for s in self.scores])) if self.scores else float("nan")


def error_view(rgb: np.ndarray, pred: np.ndarray, truth: np.ndarray, width: int) -> np.ndarray:
    """A preview of the photo: background dimmed, pixels the model wrongly calls car in red,
    car it missed in blue. Errors are found at full size and kept visible when shrunk."""
    import cv2

    h, w = truth.shape
    size = (width, max(1, round(h * width / w)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    car = cv2.resize(truth.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    extra = cv2.resize((pred & ~truth).astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    missed = cv2.resize((truth & ~pred).astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    out = small.copy()
    out[~car] *= 0.35
    out[extra] = 0.3 * small[extra] + 0.7 * np.array([255, 40, 40])
    out[missed] = 0.3 * small[missed] + 0.7 * np.array([40, 120, 255])
    return out.clip(0, 255).astype(np.uint8)


def _spread(scores: Sequence[float]) -> float:
    return max(scores) - min(scores)


def compare(
    models: Sequence[str | Path],
    pairs: Sequence[Pair],
    device: str = "auto",
    examples: int = 3,
    preview_width: int = 480,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Per-photo Dice at full size of each model on the same photos, and the photos where the
    models' scores differ most, with the errors of each marked."""
    from engine.inference.predict import Predictor

    predictors = [Predictor([m], device=device) for m in models]
    result = Comparison([p.models[0].header.name for p in predictors])
    leaders = result.examples  # the `examples` largest spreads so far, largest first
    for i, pair in enumerate(pairs):
        rgb, truth = load_pair(pair)
        preds = [p.predict(rgb) for p in predictors]
        scores = [dice(pred, truth) for pred in preds]
        result.pairs.append(pair)
        result.scores.append(scores)
        if examples and (len(leaders) < examples or _spread(scores) > _spread(leaders[-1].dice)):
            views = [error_view(rgb, pred, truth, preview_width) for pred in preds]
            leaders.append(Example(pair, scores, views))
            leaders.sort(key=lambda e: _spread(e.dice), reverse=True)
            del leaders[examples:]
        if progress:
            progress(i + 1, len(pairs))
    return result


# -- the library -----------------------------------------------------------------------------


def safe_file_name(name: str) -> str:
    stem = re.sub(r"[^\w.+-]+", "-", name.strip()).strip("-.") or "model"
    return stem[:80]


def install_model(source: str | Path, name: str, folder: str | Path | None = None) -> Path:
    """Copy a trained model into the library under `name` (its header says so too), never
    replacing a model already there. The source file is left as it is."""
    from engine.modelfiles.checkpoint import load_model, save_model

    folder = Path(folder) if folder else user_library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    model, header = load_model(source, "cpu")
    header.name = name.strip() or header.name
    stem = safe_file_name(header.name)
    dest, n = folder / f"{stem}.safetensors", 2
    while dest.exists():
        dest, n = folder / f"{stem}-{n}.safetensors", n + 1
    return save_model(dest, model, header)
