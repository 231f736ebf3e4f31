"""Training a U-Net: the paper's recipe with validation Dice at full size, best-model keeping,
resume, clean cancel (signal or file) and JSON progress events. The steps themselves run in
the shared loop core (`engine.training.core`).

Run as a child process by the GUI: `python -m engine.train --config run.json` (see
`engine.train`) streams events on stdout, one JSON object per line.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.inference.devices import resolve_device
from engine.inference.predict import LoadedModel, Predictor
from engine.modelfiles.checkpoint import ModelHeader, load_model, save_model
from engine.models.config import hw
from engine.models.unet import UNet
from engine.training.config import TrainConfig, step_plan
from engine.training.core import (
    MixedPrecision,
    StepClock,
    StepInfo,
    find_train_val,
    load_state,
    prepare_run,
    run_steps,
    save_state,
    stop_on_signals,
)
from engine.training.datasets import training_dataset
from engine.training.events import EventSink, make_event
from engine.training.header import trained_header
from engine.training.losses import CombinedLoss
from engine.training.metrics import dice
from engine.training.pairs import Pair, load_pair, split_by_car, spread


@dataclass
class TrainResult:
    model_path: Path | None
    best_val_dice: float
    epochs_done: int
    steps_done: int
    cancelled: bool
    seconds: float


@dataclass
class _Progress:
    """Where a run stands: the epoch it is in, the step within it, steps in all, best Dice."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    best: float = -1.0


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        sink: EventSink | None = None,
        train_pairs: list[Pair] | None = None,
        val_pairs: list[Pair] | None = None,
    ):
        self.cfg = config
        self.emit = sink or (lambda e: None)
        self.device = resolve_device(config.device)
        # what the forward pass computes in (`devices.training_dtype`), and the label that says so
        self.amp = MixedPrecision(self.device, config.amp)
        self.compute_dtype, self.device_label = self.amp.dtype, self.amp.label
        self._cancel = False
        if train_pairs is None:
            train_pairs, val_pairs = self._discover()
        self.train_pairs, self.val_pairs = train_pairs, val_pairs or []
        # spread over the cars and angles, not the first few
        self.val_pairs = spread(self.val_pairs, config.max_val_photos)

    def _discover(self) -> tuple[list[Pair], list[Pair]]:
        c = self.cfg
        if c.train_pairs:
            train = [Pair.from_dict(d) for d in c.train_pairs]
            if c.val_pairs:
                return train, [Pair.from_dict(d) for d in c.val_pairs]
            return split_by_car(train, c.val_fraction, c.seed)

        def warn(path: Path, reason: str) -> None:
            self.emit(make_event("log", level="warning", message=f"{path}: {reason}"))

        found = find_train_val(c.data, c.val_data, c.val_fraction, c.seed, warn=warn)
        return found.train, found.val

    def cancel(self) -> None:
        """Ask the loop to stop at the next step (thread- and signal-safe)."""
        self._cancel = True

    def _cancelled(self) -> bool:
        if self.cfg.cancel_file and Path(self.cfg.cancel_file).exists():
            self._cancel = True
        return self._cancel

    # -- building blocks -------------------------------------------------------------------
    def _build_model(self) -> tuple[UNet, ModelHeader | None]:
        if self.cfg.init_from:
            model, base = load_model(self.cfg.init_from, "cpu")
            self.cfg.arch = base.arch
            if self.cfg.size_from_base:
                self.cfg.input_size = hw(base.input_size)
            return model, base
        return UNet(self.cfg.arch, pretrained=self.cfg.pretrained), None

    def _optimizer(self, model: UNet) -> torch.optim.Optimizer:
        if self.cfg.freeze_encoder:
            for p in model.encoder.parameters():
                p.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        c = self.cfg
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
        cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        return cls(params, c.lr, weight_decay=c.weight_decay)

    def _lr_at(self, step: int, total: int) -> float:
        if self.cfg.schedule == "constant":
            return self.cfg.lr
        if self.cfg.schedule == "step":
            return self.cfg.lr * (0.1 ** int(3 * step / max(total, 1)))
        return 0.5 * self.cfg.lr * (1 + math.cos(math.pi * step / max(total, 1)))

    def train_step(
        self, model: UNet, opt, amp: MixedPrecision, loss_fn: CombinedLoss, images, targets
    ):
        """One optimizer step on a batch (photos as 0..1 tensors, soft targets); the loss parts.
        Mixed precision as `amp` says; the loss is computed in float32."""
        images = model.normalize(images.to(self.device, non_blocking=True))
        targets = targets.to(self.device, non_blocking=True)
        with amp.autocast():
            logits = model(images)
        parts = loss_fn.parts(logits.float(), targets)
        amp.step(opt, parts.total)
        return parts

    def _setup(self):
        """What a training step needs: the model on the device in training mode, its optimiser,
        a fresh mixed-precision step (its scaler) and the loss. Also returns the base model's
        header (fine-tuning)."""
        model, base = self._build_model()
        model.to(self.device)
        self._train_mode(model)
        opt = self._optimizer(model)
        self.amp = MixedPrecision(self.device, self.cfg.amp)
        return model, base, opt, self.amp, CombinedLoss(self.cfg.focal_gamma)

    def predictor(self, model: UNet) -> Predictor:
        """The model (as it is now) behind the app's own prediction path, at full size."""
        header = ModelHeader("validation", model.config, self.cfg.input_size)
        return Predictor([LoadedModel(model, header)], device=str(self.device))

    def evaluate(self, model: UNet) -> float:
        """Mean Dice over the validation photos at their full size (the competition's metric)."""
        if not self.val_pairs:
            return float("nan")
        predictor = self.predictor(model)
        scores = []
        for pair in self.val_pairs:
            rgb, truth = load_pair(pair)
            scores.append(dice(predictor.predict(rgb), truth))
        self._train_mode(model)
        return float(np.mean(scores))

    def _train_mode(self, model: UNet) -> None:
        """Training mode; a frozen encoder stays in eval mode so its BatchNorm stats stay too."""
        model.train()
        if self.cfg.freeze_encoder:
            model.encoder.eval()

    def _save_resume(self, model, opt, at: _Progress) -> None:
        if not self.cfg.resume:  # a one-off run (the wizard's): nothing would read it
            return
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": self.amp.scaler.state_dict(),
            "epoch": at.epoch,
            "step_in_epoch": at.step,
            "global_step": at.global_step,
            "best": at.best,
            "config": json.dumps(self.cfg.to_dict(), default=list),
        }
        save_state(self.cfg.resume_path, state)

    def _resume(self, model, opt) -> _Progress:
        c = self.cfg
        if not (c.resume and c.resume_path.exists()):
            return _Progress()
        state = load_state(c.resume_path, self.device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        self.amp.scaler.load_state_dict(state["scaler"])
        at = _Progress(state["epoch"], state["step_in_epoch"], state["global_step"], state["best"])
        self.emit(make_event("log", level="info", message=f"resumed at step {at.global_step}"))
        return at

    def _header(self, best: float, epoch: int, base: ModelHeader | None) -> ModelHeader:
        return trained_header(
            self.cfg, self.train_pairs, self.val_pairs, best, epoch, self.device_label, base
        )

    def _save(self, model: UNet, val: float, best: float, epoch: int, base) -> None:
        save_model(self.cfg.out, model, self._header(best, epoch, base))
        self.emit(make_event("checkpoint", path=str(self.cfg.out), val_dice=val))

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> TrainResult:
        c, t0 = self.cfg, time.time()
        # a cancel file that is already there is honoured (a Stop clicked while this process was
        # still starting); whoever starts a run removes a stale one first (GUI, `carmask train`)
        prepare_run(c.threads, c.seed)
        model, base, opt, amp, loss_fn = self._setup()
        dataset = training_dataset(c, self.train_pairs)
        bs, steps_per_epoch, total = step_plan(c, len(dataset))
        at = self._resume(model, opt)
        self.emit(
            make_event(
                "start",
                device=self.device_label,
                train_photos=len(self.train_pairs),
                val_photos=len(self.val_pairs),
                epochs=c.epochs,
                steps_per_epoch=steps_per_epoch,
                total_steps=total,
                input_size=list(c.input_size),
                encoder=c.arch.encoder,
            )
        )

        def step(batch) -> dict[str, float]:
            return self.train_step(model, opt, amp, loss_fn, *batch).as_floats()

        def on_step(info: StepInfo) -> None:
            self.emit(
                make_event(
                    "step",
                    epoch=at.epoch + 1,
                    step=at.step + info.global_step - first,
                    steps_per_epoch=steps_per_epoch,
                    global_step=info.global_step,
                    total_steps=total,
                    lr=info.lr,
                    loss=info.losses,
                    eta_s=info.eta_s,
                )
            )

        clock, cancelled = StepClock(), False
        try:
            with stop_on_signals(self.cancel):
                while at.epoch < c.epochs and at.global_step < total:
                    dataset.epoch = at.epoch
                    first = at.global_step
                    loader = DataLoader(
                        dataset,
                        batch_sampler=self._batches(len(dataset), bs, steps_per_epoch, at),
                        num_workers=c.workers,
                        pin_memory=self.device.type == "cuda",
                    )
                    lr_at = lambda g: self._lr_at(g, total)  # noqa: E731
                    ran = run_steps(
                        loader,
                        step,
                        opt,
                        lr_at,
                        global_step=at.global_step,
                        total=total,
                        clock=clock,
                        should_stop=self._cancelled,
                        on_step=on_step,
                    )
                    at.step, at.global_step = at.step + ran.steps, ran.global_step
                    if ran.stopped:
                        cancelled = True
                        self._save_resume(model, opt, at)
                        if not Path(c.out).exists() and at.global_step > 0:
                            at.best = self._save_unfinished(model, at.epoch, base)
                        break
                    at.epoch, at.step = at.epoch + 1, 0
                    self._end_epoch(model, opt, base, at, total, clock)
        except Exception as exc:
            self.emit(make_event("error", message=f"{type(exc).__name__}: {exc}"))
            raise
        return self._finish(at, cancelled, time.time() - t0)

    def _batches(self, n: int, bs: int, steps: int, at: _Progress) -> list[list[int]]:
        """This epoch's batches (a fixed shuffle per epoch, so a resumed run goes on with the
        same ones), from the step it stands at."""
        gen = torch.Generator().manual_seed(self.cfg.seed * 1009 + at.epoch)
        order = torch.randperm(n, generator=gen)
        return [order[i * bs : (i + 1) * bs].tolist() for i in range(steps)][at.step :]

    def _end_epoch(self, model, opt, base, at: _Progress, total: int, clock: StepClock) -> None:
        """Score the epoch's model; keep it if it is the best so far (or `keep_last`)."""
        val = self.evaluate(model)
        if math.isnan(val) or val > at.best or self.cfg.keep_last:
            at.best = val if not math.isnan(val) else at.best
            self._save(model, val, at.best, at.epoch, base)
        self._save_resume(model, opt, at)
        self.emit(
            make_event(
                "epoch",
                epoch=at.epoch,
                epochs=self.cfg.epochs,
                val_dice=val,
                best_val_dice=at.best,
                global_step=at.global_step,
                eta_s=clock.eta(total - at.global_step),
            )
        )

    def _finish(self, at: _Progress, cancelled: bool, seconds: float) -> TrainResult:
        c = self.cfg
        if not cancelled and c.resume_path.exists():
            c.resume_path.unlink()
        out = Path(c.out) if Path(c.out).exists() else None
        result = TrainResult(out, at.best, at.epoch, at.global_step, cancelled, seconds)
        self.emit(
            make_event(
                "cancelled" if cancelled else "done",
                model_path=str(out) if out else None,
                best_val_dice=at.best,
                epochs_done=at.epoch,
                steps_done=at.global_step,
                seconds=round(seconds, 1),
            )
        )
        return result

    def _save_unfinished(self, model: UNet, epoch: int, base: ModelHeader | None) -> float:
        """Cancelled before the first epoch ended: keep the model as it is, scored like any
        other, so a cancel never leaves nothing behind."""
        val = self.evaluate(model)
        best = val if not math.isnan(val) else -1.0
        self._save(model, val, best, epoch, base)
        return best
