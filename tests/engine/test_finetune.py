"""Fine-tuning support in the engine: the recipe, the time estimate, base-versus-new scoring on
real photos and installing a model into the library."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.inference.predict import Predictor
from engine.modelfiles.checkpoint import load_model, read_header
from engine.modelfiles.library import shipped_models_dir
from engine.training.finetune import (
    LR_ALL,
    LR_DECODER,
    child_command,
    compare,
    error_view,
    finetune_config,
    install_model,
    measure,
    steps_for,
)
from engine.training.metrics import dice
from engine.training.pairs import find_pairs, load_pair

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


def test_recipe_starts_from_the_base_model(trained_model):
    cfg = finetune_config(trained_model, decoder_only=True, epochs=3, batch_size=4)
    assert cfg.init_from == str(trained_model) and cfg.pretrained is None
    assert cfg.freeze_encoder and cfg.lr == LR_DECODER and cfg.size_from_base
    cfg = finetune_config(trained_model, input_size=(320, 480))
    assert not cfg.freeze_encoder and cfg.lr == LR_ALL
    assert not cfg.size_from_base and cfg.input_size == (320, 480)
    assert steps_for(finetune_config(trained_model, epochs=3, batch_size=4), 10) == 3 * 2
    assert steps_for(finetune_config(trained_model, epochs=3, batch_size=16), 10) == 3


def test_child_command_runs_the_engine_module():
    assert child_command("/x/run.json") == [
        sys.executable,
        "-m",
        "engine.train",
        "--config",
        "/x/run.json",
    ]


def test_child_command_in_a_bundle_uses_the_console_cli(tmp_path, monkeypatch):
    gui, cli = tmp_path / "carmask-studio", tmp_path / "carmask"
    gui.touch()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    assert child_command("r.json") == [str(gui), "--engine-train", "--config", "r.json"]
    cli.touch()
    assert child_command("r.json") == [str(cli), "--engine-train", "--config", "r.json"]


def test_cli_answers_the_training_child_flag(tmp_path, capsys):
    from engine.cli import main

    config = tmp_path / "run.json"
    config.write_text('{"data": "%s", "epochs": 1}' % (tmp_path / "nothing-here"))
    assert main(["--engine-train", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert '"event":"error"' in out and "no usable photo/mask pairs" in out


def test_estimate_times_real_steps(trained_model):
    cfg = finetune_config(trained_model, epochs=2, batch_size=4, device="cpu")
    e = measure(cfg, train_photos=9, photo_size=(320, 480)).estimate(cfg, 9, val_photos=3)
    assert e.steps == 2 * 2 and e.epochs == 2 and e.val_photos == 3
    assert 0 < e.step_seconds < 30 and 0 < e.photo_seconds < 10
    assert e.total_seconds > e.steps * e.step_seconds
    assert e.device.startswith("CPU")


def test_compare_scores_each_model_at_full_size(trained_model, tmp_path):
    pairs = find_pairs(CARVANA / "val").pairs[:4]
    other = next(shipped_models_dir().glob("*.safetensors"))
    result = compare([trained_model, other], pairs, "cpu", examples=2, preview_width=120)
    assert result.names == ["tiny", read_header(other).name]
    assert result.pairs == pairs and len(result.scores) == 4
    rgb, truth = load_pair(pairs[0])
    expected = dice(Predictor([trained_model], device="cpu").predict(rgb), truth)
    assert result.scores[0][0] == pytest.approx(expected)
    assert result.mean(1) > result.mean(0)  # the shipped model beats the 20-second one
    spreads = [abs(s[1] - s[0]) for s in result.scores]
    assert [e.pair for e in result.examples] == [pairs[i] for i in np.argsort(spreads)[::-1][:2]]
    assert result.examples[0].views[0].shape == (80, 120, 3)


def test_error_view_marks_both_kinds_of_error():
    rgb = np.full((40, 60, 3), 200, np.uint8)
    truth = np.zeros((40, 60), bool)
    truth[10:30, 10:50] = True
    pred = truth.copy()
    pred[0:2, 0:2] = True  # background taken for car
    pred[20:22, 20:22] = False  # car missed
    view = error_view(rgb, pred, truth, 60)
    assert view[0, 0, 0] > 200 and view[0, 0, 2] < 150  # red
    assert view[20, 20, 2] > 200 and view[20, 20, 0] < 150  # blue
    assert (view[15, 15] == 200).all()  # car kept as it is
    assert (view[35, 5] < 80).all()  # background dimmed


def test_install_never_replaces_and_leaves_the_source(trained_model, tmp_path):
    before = hashlib.sha256(trained_model.read_bytes()).hexdigest()
    first = install_model(trained_model, "Studio A / spring", tmp_path)
    second = install_model(trained_model, "Studio A / spring", tmp_path)
    assert first.name == "Studio-A-spring.safetensors"
    assert second.name == "Studio-A-spring-2.safetensors"
    assert read_header(second).name == "Studio A / spring"
    load_model(second)  # checksum and weights intact
    assert hashlib.sha256(trained_model.read_bytes()).hexdigest() == before
