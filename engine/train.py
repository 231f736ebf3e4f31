"""Training: the paper's recipe with validation Dice at full size, best-model keeping, resume,
clean cancel (signal or file) and JSON progress events.

Run as a child process by the GUI: `python -m engine.train --config run.json` streams events on
stdout, one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.checkpoint import ModelHeader, load_model, save_model
from engine.data import Augment, PairDataset
from engine.devices import describe_compute, resolve_device, training_dtype
from engine.events import EventSink, JsonLinesSink, make_event
from engine.losses import CombinedLoss
from engine.metrics import dice
from engine.models.config import hw
from engine.models.unet import UNet
from engine.pairs import Pair, find_pairs, load_pair, split_by_car, spread
from engine.predict import LoadedModel, Predictor
from engine.train_config import TrainConfig, step_plan


@dataclass
class TrainResult:
    model_path: Path | None
    best_val_dice: float
    epochs_done: int
    steps_done: int
    cancelled: bool
    seconds: float


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
        self.compute_dtype = training_dtype(self.device, config.amp)
        self.device_label = describe_compute(self.device, self.compute_dtype)
        self._cancel = False
        if train_pairs is None:
            train_pairs, val_pairs = self._discover()
        self.train_pairs, self.val_pairs = train_pairs, val_pairs or []
        # spread over the cars and angles, not the first few
        self.val_pairs = spread(self.val_pairs, config.max_val_photos)

    def _discover(self) -> tuple[list[Pair], list[Pair]]:
        if self.cfg.train_pairs:
            train = [Pair.from_dict(d) for d in self.cfg.train_pairs]
            if self.cfg.val_pairs:
                return train, [Pair.from_dict(d) for d in self.cfg.val_pairs]
            return split_by_car(train, self.cfg.val_fraction, self.cfg.seed)
        report = find_pairs(self.cfg.data)
        for path, reason in report.problems:
            self.emit(make_event("log", level="warning", message=f"{path}: {reason}"))
        if not report.pairs:
            raise ValueError(f"no usable photo/mask pairs in {self.cfg.data}")
        if self.cfg.val_data:
            val = find_pairs(self.cfg.val_data)
            return report.pairs, val.pairs
        return split_by_car(report.pairs, self.cfg.val_fraction, self.cfg.seed)

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

    def train_step(self, model: UNet, opt, scaler, loss_fn: CombinedLoss, images, targets):
        """One optimizer step on a batch (photos as 0..1 tensors, soft targets); the loss parts.
        Mixed precision as `compute_dtype` says; the loss is computed in float32."""
        images = model.normalize(images.to(self.device, non_blocking=True))
        targets = targets.to(self.device, non_blocking=True)
        dtype = self.compute_dtype
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = model(images)
        parts = loss_fn.parts(logits.float(), targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(parts.total).backward()
        scaler.step(opt)
        scaler.update()
        return parts

    def _setup(self):
        """What a training step needs: the model on the device in training mode, its optimiser,
        the AMP scaler and the loss. Also returns the base model's header (fine-tuning)."""
        model, base = self._build_model()
        model.to(self.device)
        self._train_mode(model)
        opt = self._optimizer(model)
        scaler = torch.amp.GradScaler("cuda", enabled=self.compute_dtype == torch.float16)
        return model, base, opt, scaler, CombinedLoss(self.cfg.focal_gamma)

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

    def _save_resume(self, model, opt, scaler, epoch, step_in_epoch, global_step, best) -> None:
        if not self.cfg.resume:  # a one-off run (the wizard's): nothing would read it
            return
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict(),
            "epoch": epoch,
            "step_in_epoch": step_in_epoch,
            "global_step": global_step,
            "best": best,
            "config": json.dumps(self.cfg.to_dict(), default=list),
        }
        tmp = self.cfg.resume_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.cfg.resume_path)

    def _header(self, best: float, epoch: int, base: ModelHeader | None) -> ModelHeader:
        c = self.cfg
        cars = sorted({p.car for p in self.train_pairs})
        training = {
            "data": str(c.data),
            "train_photos": len(self.train_pairs),
            "train_cars": len(cars),
            "val_photos": len(self.val_pairs),
            "recipe": {
                k: getattr(c, k)
                for k in (
                    "epochs",
                    "batch_size",
                    "lr",
                    "optimizer",
                    "schedule",
                    "weight_decay",
                    "focal_gamma",
                    "seed",
                    "pretrained",
                    "freeze_encoder",
                    "preset",
                    "crop_size",
                    "compose",
                )
            },
            "epochs_done": epoch,
            "device": self.device_label,
        }
        if base is not None:
            training["finetuned_from"] = {"name": base.name, "metrics": base.metrics}
        name = c.name or Path(c.out).stem
        return ModelHeader(
            name,
            c.arch,
            hw(c.input_size),
            training=training,
            metrics={"val_dice": best, "val_photos": len(self.val_pairs)},
        )

    def _dataset(self):
        c = self.cfg
        if not c.compose:
            return PairDataset(
                self.train_pairs, c.input_size, Augment(), c.cache_dir or None, c.seed, c.crop_size
            )
        from engine.scenes.dataset import ComposeConfig, ComposedDataset, Mix
        from engine.scenes.sources import find_scenes

        cc = ComposeConfig.from_dict(c.compose)
        if c.crop_size is None:
            raise ValueError("scene composition trains on crops: give a crop size")
        return ComposedDataset(
            self.train_pairs,
            c.input_size,
            c.crop_size,
            scenes=find_scenes(cc.scenes) if cc.scenes else (),
            photos=[Pair.from_dict(d) for d in cc.photos],
            mix=Mix(**cc.mix),
            cache_dir=cc.cache_dir or c.cache_dir or None,
            seed=c.seed,
            epoch_size=cc.epoch_size,
            small_cars=cc.small_cars,
        )

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> TrainResult:
        c, t0 = self.cfg, time.time()
        if c.threads:
            torch.set_num_threads(c.threads)
        # a cancel file that is already there is honoured (a Stop clicked while this process was
        # still starting); whoever starts a run removes a stale one first (GUI, `carmask train`)
        torch.manual_seed(c.seed)
        model, base, opt, scaler, loss_fn = self._setup()
        dataset = self._dataset()
        bs, steps_per_epoch, total = step_plan(c, len(dataset))
        epoch, start_step, global_step, best = 0, 0, 0, -1.0
        if c.resume and c.resume_path.exists():
            state = torch.load(c.resume_path, map_location=self.device, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            epoch, start_step = state["epoch"], state["step_in_epoch"]
            global_step, best = state["global_step"], state["best"]
            self.emit(make_event("log", level="info", message=f"resumed at step {global_step}"))
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
        handlers = self._install_signal_handlers()
        cancelled = False
        step_times: list[float] = []
        try:
            while epoch < c.epochs and global_step < total and not cancelled:
                dataset.epoch = epoch
                order = torch.randperm(
                    len(dataset), generator=torch.Generator().manual_seed(c.seed * 1009 + epoch)
                )
                batches = [order[i * bs : (i + 1) * bs].tolist() for i in range(steps_per_epoch)]
                loader = DataLoader(
                    dataset,
                    batch_sampler=batches[start_step:],
                    num_workers=c.workers,
                    pin_memory=self.device.type == "cuda",
                )
                step = start_step
                for images, targets in loader:
                    if self._cancelled():
                        cancelled = True
                        break
                    ts = time.time()
                    for g in opt.param_groups:
                        g["lr"] = self._lr_at(global_step, total)
                    parts = self.train_step(model, opt, scaler, loss_fn, images, targets)
                    step += 1
                    global_step += 1
                    step_times.append(time.time() - ts)
                    eta = float(np.median(step_times[-20:])) * (total - global_step)
                    self.emit(
                        make_event(
                            "step",
                            epoch=epoch + 1,
                            step=step,
                            steps_per_epoch=steps_per_epoch,
                            global_step=global_step,
                            total_steps=total,
                            lr=opt.param_groups[0]["lr"],
                            loss=parts.as_floats(),
                            eta_s=round(eta, 1),
                        )
                    )
                    if global_step >= total:
                        break
                if cancelled:
                    self._save_resume(model, opt, scaler, epoch, step, global_step, best)
                    if not Path(c.out).exists() and global_step > 0:
                        best = self._save_unfinished(model, epoch, base)
                    break
                epoch, start_step = epoch + 1, 0
                val = self.evaluate(model)
                improved = math.isnan(val) or val > best or c.keep_last
                if improved:
                    best = val if not math.isnan(val) else best
                    save_model(c.out, model, self._header(best, epoch, base))
                    self.emit(make_event("checkpoint", path=str(c.out), val_dice=val))
                self._save_resume(model, opt, scaler, epoch, 0, global_step, best)
                self.emit(
                    make_event(
                        "epoch",
                        epoch=epoch,
                        epochs=c.epochs,
                        val_dice=val,
                        best_val_dice=best,
                        global_step=global_step,
                        eta_s=round(
                            float(np.median(step_times[-20:] or [0])) * (total - global_step), 1
                        ),
                    )
                )
        except Exception as exc:
            self.emit(make_event("error", message=f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            self._restore_signal_handlers(handlers)
        finished = not cancelled
        if finished and c.resume_path.exists():
            c.resume_path.unlink()
        out = Path(c.out) if Path(c.out).exists() else None
        result = TrainResult(out, best, epoch, global_step, cancelled, time.time() - t0)
        kind = "cancelled" if cancelled else "done"
        self.emit(
            make_event(
                kind,
                model_path=str(out) if out else None,
                best_val_dice=best,
                epochs_done=epoch,
                steps_done=global_step,
                seconds=round(result.seconds, 1),
            )
        )
        return result

    def _save_unfinished(self, model: UNet, epoch: int, base: ModelHeader | None) -> float:
        """Cancelled before the first epoch ended: keep the model as it is, scored like any
        other, so a cancel never leaves nothing behind."""
        val = self.evaluate(model)
        best = val if not math.isnan(val) else -1.0
        save_model(self.cfg.out, model, self._header(best, epoch, base))
        self.emit(make_event("checkpoint", path=str(self.cfg.out), val_dice=val))
        return best

    def _install_signal_handlers(self):
        import threading

        if threading.current_thread() is not threading.main_thread():
            return None
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda *_: self.cancel())
        return old

    @staticmethod
    def _restore_signal_handlers(old) -> None:
        for sig, handler in (old or {}).items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Child-process entry: `python -m engine.train --config run.json` → JSON events on stdout."""
    parser = argparse.ArgumentParser(prog="python -m engine.train")
    parser.add_argument("--config", required=True, help="JSON file with TrainConfig fields")
    args = parser.parse_args(argv)
    out, errors = JsonLinesSink(sys.stdout), []

    def sink(event) -> None:
        if event["event"] == "error":
            errors.append(event)
        out(event)

    try:
        cfg = TrainConfig(**json.loads(Path(args.config).read_text()))
        result = Trainer(cfg, sink).run()
    except Exception as exc:  # bad config, no usable data, unreadable init model: say why
        if not errors:  # run() reports failures inside its loop itself
            sink(make_event("error", message=f"{type(exc).__name__}: {exc}"))
        return 1
    return 0 if not result.cancelled else 3


if __name__ == "__main__":
    sys.exit(main())
