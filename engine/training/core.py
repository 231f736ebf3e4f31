"""The loop core every training run shares (the U-Net's `Trainer` and the edge refiner's
`train_on_tiles`), in the spirit of torchvision's references' `train_one_epoch`:

- `prepare_run`: threads and the seed, the same way for every run;
- `find_train_val`: photo/mask pairs to learn from and to check on (a folder, or a split by car);
- `MixedPrecision`: autocast and the gradient scaler as the device and `amp` say (bf16 on a CPU
  that computes it, fp16 with a scaler on CUDA, else float32), and one optimiser step;
- `run_steps`: the steps themselves: the learning rate per step, stop between steps when asked,
  a callback after each step with its losses and an ETA;
- `save_state` / `load_state`: the resume file, written atomically, read without pickle.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.inference.devices import describe_compute, training_dtype
from engine.training.pairs import Pair, PairReport, find_pairs, split_by_car, spread


def prepare_run(threads: int, seed: int) -> None:
    """Threads (0 leaves torch's default) and the global seed, before any model is built."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)


@dataclass
class TrainVal:
    train: list[Pair]
    val: list[Pair]
    report: PairReport  # the training folder's report: its problems are said, not hidden


def find_train_val(
    data: str | Path,
    val_data: str | Path | None,
    val_fraction: float,
    seed: int,
    max_val: int = 0,
    warn: Callable[[Path, str], None] | None = None,
) -> TrainVal:
    """The pairs of `data` to learn from and those to check on: `val_data`'s, or a split of
    `data` by car (a car's angles never straddle the two); at most `max_val` checked (0: all),
    spread over the cars and angles. `warn` hears of each file of `data` left out, and why."""
    report = find_pairs(data)
    if warn is not None:
        for path, reason in report.problems:
            warn(path, reason)
    if not report.pairs:
        raise ValueError(f"no usable photo/mask pairs in {data}")
    if val_data:
        checked = find_pairs(val_data)
        if warn is not None:
            for path, reason in checked.problems:
                warn(path, reason)
        if not checked.pairs:  # else the run trains unchecked and its model says "val Dice -1"
            why = "folder not found" if not Path(val_data).is_dir() else "no photo/mask pairs"
            raise ValueError(f"validation folder {val_data}: {why}; nothing to validate on")
        train, val = report.pairs, checked.pairs
    else:
        train, val = split_by_car(report.pairs, val_fraction, seed)
    return TrainVal(train, spread(val, max_val), report)


class MixedPrecision:
    """What the forward pass computes in on this device, and the optimiser step that goes with
    it (a gradient scaler only for float16). The loss is always taken in float32."""

    def __init__(self, device: torch.device, amp: bool):
        self.device = device
        self.dtype = training_dtype(device, amp)
        self.label = describe_compute(device, self.dtype)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        reduced = self.dtype != torch.float32
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=reduced)

    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()


@dataclass
class StepClock:
    """Seconds per step (the median of the last `window`), for the ETA a user is shown."""

    window: int = 20
    times: list[float] = field(default_factory=list)

    def eta(self, steps_left: int) -> float:
        recent = self.times[-self.window :]
        return round(statistics.median(recent) * steps_left, 1) if recent else 0.0


@dataclass
class StepInfo:
    global_step: int  # steps done in the whole run, this one included
    total: int
    lr: float
    losses: dict[str, float]
    eta_s: float


@dataclass
class StepsOutcome:
    steps: int  # taken in this call
    global_step: int
    stopped: bool  # `should_stop` said so before the batches ran out


def run_steps(
    batches: Iterable[Any],
    step: Callable[[Any], dict[str, float]],
    opt: torch.optim.Optimizer,
    lr_at: Callable[[int], float],
    *,
    global_step: int,
    total: int,
    clock: StepClock,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[StepInfo], None] | None = None,
) -> StepsOutcome:
    """One pass over `batches` (an epoch, or all of a step-counted run): before each step the
    learning rate is set from the run's step count and a stop request is honoured; `step` does
    the optimiser step on a batch and returns its losses; `on_step` hears of each. Ends at the
    batches' end or when the run's `total` is reached."""
    done = 0
    for batch in batches:
        if should_stop():
            return StepsOutcome(done, global_step, True)
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(global_step)
        losses = step(batch)
        done, global_step = done + 1, global_step + 1
        clock.times.append(time.time() - t0)
        if on_step:
            lr = opt.param_groups[0]["lr"]
            on_step(StepInfo(global_step, total, lr, losses, clock.eta(total - global_step)))
        if global_step >= total:
            break
    return StepsOutcome(done, global_step, False)


def save_state(path: Path, state: dict) -> None:
    """The resume file, atomically (a crash mid-write keeps the previous one)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_state(path: Path, device: torch.device) -> dict:
    return torch.load(path, map_location=device, weights_only=True)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]):
    """SIGINT and SIGTERM ask the run to stop at the next step (so it keeps its model and
    resume file) while the block runs; only the main thread can take signals."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, lambda *_: stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
