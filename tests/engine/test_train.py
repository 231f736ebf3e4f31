"""Training on the real Carvana photos: the loss falls, the model file and its header, the event
stream (in process and from `python -m engine.train`), cancel by file or signal, resume,
determinism and fine-tuning with a frozen encoder.

Tiny model and input size, CPU, one thread: the whole file runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from factories import train_settings

from engine.inference.devices import cpu_has_fast_bf16, describe_device
from engine.modelfiles.checkpoint import load_model, read_header
from engine.models.unet import UNetConfig
from engine.training.config import TrainConfig
from engine.training.events import read_events
from engine.training.pairs import find_pairs
from engine.training.trainer import Trainer, TrainResult

REPO = Path(__file__).resolve().parents[2]
CARVANA = REPO / "tests" / "data" / "carvana"
ARCH = UNetConfig("efficientnet_lite0", "add", (32, 16, 16, 8, 8), 32)
SIZE = (64, 96)
STEPS_PER_EPOCH = 2  # 8 training photos, batch 4
CHILD_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    "OMP_NUM_THREADS": "1",
    "CARMASK_OFFLINE": "1",
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny convolutions run fastest on one thread (and a busy machine makes two crawl)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _settings(out: Path, **overrides) -> dict:
    """The tiny base run (`factories.train_settings`) on an EfficientNet-Lite0 U-Net at 64×96."""
    base = dict(arch=ARCH.to_dict(), input_size=list(SIZE), max_val_photos=2)
    return train_settings(out, **{**base, **overrides})


def _train(out: Path, **overrides) -> tuple[TrainResult, list[dict]]:
    events: list[dict] = []
    result = Trainer(TrainConfig(**_settings(out, **overrides)), events.append).run()
    return result, events


def _of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def _losses(events: list[dict]) -> list[float]:
    return [e["loss"]["total"] for e in _of(events, "step")]


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Run:
    out: Path
    result: TrainResult
    events: list[dict]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """One real training run: 8 epochs × 2 steps on the 8 training photos, 2 val photos."""
    out = tmp_path_factory.mktemp("train") / "tiny.safetensors"
    result, events = _train(out, epochs=8)
    return Run(out, result, events)


# --------------------------------------------------------------------------- a real run


def test_training_lowers_the_loss(run):
    losses = _losses(run.events)
    assert len(losses) == 8 * STEPS_PER_EPOCH
    assert all(math.isfinite(x) for x in losses)
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.75 * first, losses


def test_model_file_loads_and_its_header_describes_the_run(run):
    assert run.result.model_path == run.out and run.out.is_file()
    assert not run.result.cancelled
    assert run.result.steps_done == 16 and run.result.epochs_done == 8
    model, header = load_model(run.out)
    assert header.name == "tiny"
    assert header.arch == ARCH and header.input_size == SIZE
    val_dice = header.metrics["val_dice"]
    best = max(e["val_dice"] for e in _of(run.events, "epoch"))
    assert val_dice == pytest.approx(best) == pytest.approx(run.result.best_val_dice)
    assert 0.0 < val_dice <= 1.0
    assert header.metrics["val_photos"] == 2
    training = header.training
    assert training["train_photos"] == 8 and training["train_cars"] == 2
    assert training["val_photos"] == 2
    recipe = training["recipe"]
    assert recipe["optimizer"] == "adam" and recipe["lr"] == 0.01
    assert recipe["batch_size"] == 4 and recipe["epochs"] == 8 and recipe["seed"] == 0
    assert recipe["pretrained"] is None and recipe["freeze_encoder"] is False
    with torch.no_grad():
        assert model(torch.zeros(1, 3, *SIZE)).shape == (1, 1, *SIZE)
    # a finished run leaves no resume file behind
    assert not TrainConfig(**_settings(run.out)).resume_path.exists()


def test_event_stream(run):
    events = run.events
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert set(kinds) == {"start", "step", "epoch", "checkpoint", "done"}
    for event in events:
        assert isinstance(event["time"], float)
        json.dumps(event)  # every event can go down the pipe as JSON

    start = events[0]
    assert start["train_photos"] == 8 and start["val_photos"] == 2
    assert start["epochs"] == 8 and start["steps_per_epoch"] == STEPS_PER_EPOCH
    assert start["total_steps"] == 16
    assert start["input_size"] == list(SIZE) and start["encoder"] == ARCH.encoder

    steps = _of(events, "step")
    assert [s["global_step"] for s in steps] == list(range(1, 17))
    assert [s["step"] for s in steps] == [1, 2] * 8
    assert [s["epoch"] for s in steps] == [e for e in range(1, 9) for _ in range(2)]
    for s in steps:
        loss = s["loss"]
        assert set(loss) == {"total", "bce", "focal", "dice"}
        assert loss["total"] == pytest.approx(loss["bce"] + loss["focal"] + loss["dice"], 1e-5)
        assert all(v >= 0 for v in loss.values())
        assert isinstance(s["eta_s"], float) and s["eta_s"] >= 0
        assert s["lr"] == pytest.approx(0.01) and s["total_steps"] == 16
    assert steps[-1]["eta_s"] == 0

    epochs = _of(events, "epoch")
    assert [e["epoch"] for e in epochs] == list(range(1, 9))
    assert all(0.0 <= e["val_dice"] <= 1.0 for e in epochs)
    assert [e["global_step"] for e in epochs] == list(range(2, 17, 2))
    # a checkpoint each time validation improved, just before that epoch's event
    checkpoints = _of(events, "checkpoint")
    assert checkpoints and all(c["path"] == str(run.out) for c in checkpoints)
    improved, best = [], -1.0
    for e in epochs:
        if e["val_dice"] > best:
            improved.append(e["val_dice"])
        best = max(best, e["val_dice"])
        assert e["best_val_dice"] == best
    assert [c["val_dice"] for c in checkpoints] == improved
    for c in checkpoints:
        assert events[events.index(c) + 1]["event"] == "epoch"

    done = events[-1]
    assert done["model_path"] == str(run.out) and done["steps_done"] == 16
    assert done["best_val_dice"] == pytest.approx(run.result.best_val_dice)


def test_same_seed_same_losses_other_seed_other_losses(run, tmp_path):
    _, again = _train(tmp_path / "again.safetensors", epochs=8, max_steps=3)
    assert _losses(again) == _losses(run.events)[:3]
    _, other = _train(tmp_path / "other.safetensors", epochs=8, max_steps=1, seed=1)
    assert _losses(other)[0] != _losses(run.events)[0]


# --------------------------------------------------------------------------- cancel, resume


def test_mixed_precision_on_a_cpu_with_native_bf16_and_float32_on_request(run, tmp_path):
    """`amp` (the default) computes the forward pass in bfloat16 on a CPU that has it natively
    (twice the step speed there) and says so; amp=False, or a CPU without it, is float32."""
    _, plain = _train(tmp_path / "fp32.safetensors", epochs=8, max_steps=2, amp=False)
    assert plain[0]["device"] == describe_device(torch.device("cpu"))
    mixed = run.events
    first_mixed, first_plain = _losses(mixed)[0], _losses(plain)[0]
    if cpu_has_fast_bf16():
        assert mixed[0]["device"] == plain[0]["device"] + ", bfloat16"
        assert first_mixed != first_plain  # computed in another precision ...
        assert first_mixed == pytest.approx(first_plain, rel=0.02)  # ... to the same effect
    else:
        assert mixed[0]["device"] == plain[0]["device"]
        assert first_mixed == first_plain
    _, header = load_model(run.out)
    assert header.training["device"] == mixed[0]["device"]


def test_a_stop_sent_while_the_run_starts_up_is_honoured(tmp_path):
    """The wizard writes the cancel file while the child is still importing torch."""
    out, cancel = tmp_path / "model.safetensors", tmp_path / "cancel"
    cancel.write_text("stop")
    events: list[dict] = []
    result = Trainer(TrainConfig(**_settings(out, cancel_file=str(cancel))), events.append).run()
    assert result.cancelled and result.steps_done == 0
    assert not _of(events, "step") and events[-1]["event"] == "cancelled"
    assert not out.exists()


def test_cancel_file_stops_at_the_next_step_and_resume_continues(run, tmp_path):
    out, cancel = tmp_path / "model.safetensors", tmp_path / "cancel"
    resume_file = TrainConfig(**_settings(out)).resume_path
    events: list[dict] = []

    def sink(event):
        events.append(event)
        if event["event"] == "step" and event["global_step"] == 3:
            cancel.touch()

    cfg = TrainConfig(**_settings(out, cancel_file=str(cancel)))
    result = Trainer(cfg, sink).run()

    assert result.cancelled and result.steps_done == 3
    assert [s["global_step"] for s in _of(events, "step")] == [1, 2, 3]
    assert events[-1]["event"] == "cancelled" and events[-1]["steps_done"] == 3
    assert "done" not in [e["event"] for e in events]
    assert resume_file.is_file()

    cancel.unlink()
    resumed: list[dict] = []
    result = Trainer(TrainConfig(**_settings(out, cancel_file=str(cancel))), resumed.append).run()

    assert not result.cancelled and result.steps_done == 4 * STEPS_PER_EPOCH
    steps = _of(resumed, "step")
    assert steps[0]["global_step"] == 4 and steps[-1]["global_step"] == 8
    assert resumed[-1]["event"] == "done"
    assert not resume_file.exists()
    load_model(out)
    # the interrupted run, resumed, trained exactly like the uninterrupted one
    assert _losses(events) + _losses(resumed) == pytest.approx(_losses(run.events)[:8], rel=1e-5)


def test_cancel_before_the_first_epoch_still_leaves_a_scored_model(tmp_path):
    out = tmp_path / "model.safetensors"
    events: list[dict] = []
    trainer = Trainer(TrainConfig(**_settings(out)), events.append)
    trainer.emit = lambda e: (events.append(e), e["event"] == "step" and trainer.cancel())
    result = trainer.run()

    assert result.cancelled and result.steps_done == 1 and result.model_path == out
    checkpoint = _of(events, "checkpoint")
    assert len(checkpoint) == 1 and 0 < checkpoint[0]["val_dice"] < 1
    _model, header = load_model(out)
    assert header.training["epochs_done"] == 0
    assert header.metrics["val_dice"] == pytest.approx(checkpoint[0]["val_dice"])


def test_explicit_pairs_and_a_new_size_for_finetuning(run, tmp_path):
    """The wizard passes its own train/validation pairs and may change the input size."""
    train = find_pairs(CARVANA / "train").pairs
    val = find_pairs(CARVANA / "val").pairs[:2]
    out = tmp_path / "tuned.safetensors"
    settings = _settings(
        out,
        data="",
        val_data="",
        train_pairs=[p.to_dict() for p in train],
        val_pairs=[p.to_dict() for p in val],
        init_from=str(run.out),
        size_from_base=False,
        input_size=[96, 128],
        epochs=1,
    )
    del settings["arch"]
    events: list[dict] = []
    Trainer(TrainConfig(**settings), events.append).run()
    start = _of(events, "start")[0]
    assert start["train_photos"] == len(train) and start["val_photos"] == 2
    assert start["input_size"] == [96, 128]
    assert read_header(out).input_size == (96, 128)
    assert read_header(out).arch == ARCH


class Child:
    """`python -m engine.train --config …` as a real child process, its stdout read live."""

    def __init__(self, config: Path):
        self.stderr = config.with_suffix(".stderr")
        with open(self.stderr, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engine.train", "--config", str(config)],
                cwd=REPO,
                env=CHILD_ENV,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, kind: str, timeout: float = 60) -> dict:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                self.proc.kill()
                pytest.fail(f"no {kind!r} event within {timeout} s: {self.lines}")
            if line is None:
                pytest.fail(f"exited before a {kind!r} event: {self.lines} {self.errors()}")
            self.lines.append(line)
            for event in read_events([line]):
                if event["event"] == kind:
                    return event

    def finish(self, timeout: float = 60) -> tuple[int, list[dict]]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code, list(read_events(io.StringIO("".join(self.lines))))

    def errors(self) -> str:
        return self.stderr.read_text()


def _config_file(tmp_path: Path, **overrides) -> tuple[Path, TrainConfig]:
    path = tmp_path / "run.json"
    settings = _settings(tmp_path / "model.safetensors", **overrides)
    path.write_text(json.dumps(settings))
    return path, TrainConfig(**settings)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_cancels_child_cleanly_and_a_rerun_resumes(tmp_path, sig):
    config, cfg = _config_file(tmp_path, epochs=6)  # 12 steps
    child = Child(config)
    child.wait_for("step")
    child.proc.send_signal(sig)
    code, events = child.finish()

    assert code == 3, child.errors()
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "cancelled" and "done" not in kinds
    saved = events[-1]["steps_done"]
    assert 1 <= saved < 12
    assert [s["global_step"] for s in _of(events, "step")] == list(range(1, saved + 1))
    assert cfg.resume_path.is_file()

    if sig == signal.SIGTERM:  # the GUI runs it again: a child that resumes and finishes
        child = Child(config)
        code, events = child.finish()
        assert code == 0, child.errors()
    else:  # the same resume in process
        events = []
        assert not Trainer(cfg, events.append).run().cancelled
    steps = _of(events, "step")
    assert steps[0]["global_step"] == saved + 1 and steps[-1]["global_step"] == 12
    assert events[-1]["event"] == "done" and events[-1]["steps_done"] == 12
    assert not cfg.resume_path.exists()
    _, header = load_model(cfg.out)
    assert header.training["train_photos"] == 8


def test_child_reports_an_unusable_config_as_an_error_event(tmp_path):
    config, _ = _config_file(tmp_path, data=str(tmp_path / "no such folder"))
    child = Child(config)
    code, events = child.finish()
    assert code == 1
    errors = _of(events, "error")
    assert len(errors) == 1 and "no usable photo/mask pairs" in errors[0]["message"]
    assert "no such folder" in errors[0]["message"]


# --------------------------------------------------------------------------- fine-tune


def test_finetune_with_frozen_encoder(run, tmp_path):
    original = _sha256(run.out)
    base, base_header = load_model(run.out)
    out = tmp_path / "finetuned.safetensors"
    settings = _settings(out, init_from=str(run.out), freeze_encoder=True, epochs=2)
    del settings["arch"], settings["input_size"]  # both come from the model file
    result = Trainer(TrainConfig(**settings)).run()

    assert result.model_path == out
    assert _sha256(run.out) == original  # the starting model is never modified
    tuned, header = load_model(out)
    assert header.arch == ARCH and header.input_size == SIZE
    assert header.training["recipe"]["freeze_encoder"] is True
    assert header.training["finetuned_from"]["name"] == base_header.name
    before, after = base.state_dict(), tuned.state_dict()
    encoder = [k for k in before if k.startswith("encoder.")]
    assert encoder
    for key in encoder:  # weights and BatchNorm statistics alike
        assert torch.equal(before[key], after[key]), key
    rest = [k for k in before if not k.startswith("encoder.") and before[k].is_floating_point()]
    changed = [k for k in rest if not torch.equal(before[k], after[k])]
    assert any(k.startswith("decoder.") for k in changed)
    assert any(k.startswith("head.") for k in changed)


def test_carmask_finetune_at_another_size(run, tmp_path):
    """`carmask finetune --size` trains at that size (as the shipped 384×576 default was made
    from the 256×384 model); without it, at the base model's size."""
    from engine.cli import main

    out = tmp_path / "bigger.safetensors"
    args = ["finetune", "--model", str(run.out), "--data", str(CARVANA / "train"), "--val-data"]
    args += [str(CARVANA / "val"), "--epochs", "1", "--max-steps", "1", "--batch-size", "4"]
    crop = ["--crop", "64x64"]  # the paper's crop training: steps on 64×64 windows
    assert main([*args, "--size", "96x128", *crop, "--out", str(out), "--device", "cpu"]) == 0
    assert read_header(out).input_size == (96, 128)
    assert read_header(out).training["recipe"]["crop_size"] == [64, 64]
    same = tmp_path / "same.safetensors"
    assert main([*args, "--out", str(same), "--device", "cpu"]) == 0
    assert read_header(same).input_size == SIZE


def test_carmask_finetune_on_composed_scenes(run, tmp_path):
    """`carmask finetune --compose --scenes --mix-photos` trains on cars pasted into studios and
    street scenes mixed with real photos, and the model file says what it was trained on."""
    from PIL import Image

    from engine.cli import main
    from engine.io import read_rgb

    scenes = tmp_path / "scenes"
    (scenes / "images").mkdir(parents=True)
    for photo in sorted((CARVANA / "val").glob("*.jpg"))[:2]:  # real photos as the "streets"
        Image.fromarray(read_rgb(photo)).save(scenes / "images" / f"rf_x_S1_{photo.stem}.jpg")
    out = tmp_path / "composed.safetensors"
    args = ["finetune", "--model", str(run.out), "--data", str(CARVANA / "train"), "--val-data"]
    args += [str(CARVANA / "val"), "--epochs", "1", "--max-steps", "2", "--batch-size", "2"]
    args += ["--crop", "64x96", "--compose", "--scenes", str(scenes), "--device", "cpu"]
    args += ["--mix-photos", str(CARVANA / "val"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--out", str(out)]) == 0
    recipe = read_header(out).training["recipe"]
    assert recipe["compose"]["scenes"] == str(scenes)
    assert len(recipe["compose"]["photos"]) == len(list((CARVANA / "val").glob("*.jpg")))
    assert any((tmp_path / "cache" / "cutouts").glob("*.npy"))  # cars were cut out and pasted
    # composition trains on crops: without --crop it is refused with a reason
    bad = [a for a in args if a not in ("--crop", "64x96")]
    assert main([*bad, "--out", str(tmp_path / "x.safetensors")]) == 2


@pytest.mark.parametrize("command", ["train", "finetune"])
@pytest.mark.parametrize("val", ["missing", "empty"])
def test_a_validation_folder_without_pairs_stops_the_run_before_it_trains(
    run, tmp_path, capsys, command, val
):
    """Else the run trains unchecked, ends well and its model file says "val Dice -1"."""
    from engine.cli import main

    folder = tmp_path / "val"
    if val == "empty":
        folder.mkdir()
        (folder / "notes.txt").write_text("no photos here")
    out = tmp_path / "unchecked.safetensors"
    args = [command, "--data", str(CARVANA / "train"), "--val-data", str(folder)]
    args += ["--epochs", "1", "--max-steps", "1", "--batch-size", "4", "--size", "64x96"]
    args += ["--out", str(out), "--device", "cpu"]
    args += ["--model", str(run.out)] if command == "finetune" else ["--no-pretrained"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"validation folder {folder}" in err
    assert ("folder not found" if val == "missing" else "no photo/mask pairs") in err
    assert not out.exists()
