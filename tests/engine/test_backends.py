"""OpenVINO backend (`engine.inference.backends`): PyTorch's masks, a cache keyed by digest, and a
fallback to PyTorch that says why."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest
import torch

from engine.inference.backends import BackendError
from engine.inference.backends.cache import SOURCE
from engine.inference.predict import Predictor
from engine.io import read_rgb
from engine.modelfiles.checkpoint import load_model, save_model
from engine.training.metrics import dice

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"
DEFAULT = MODELS / "cpu-lite0-448x672-any-studio.safetensors"  # with an edge refiner
DATA = Path(__file__).parents[1] / "data"
PHOTOS = [
    DATA / "fullsize" / "0ed6904e1004_05.jpg",  # 1918×1280: the model's own aspect
    DATA / "fullsize" / "3071362591f7_13.jpg",
    DATA / "web-cars" / "images" / "rf_valid_Carro_23.jpg",  # 480×360: 4:3, another input size
]


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / SOURCE).is_file())


@pytest.mark.parametrize("tta", [False, True])
def test_openvino_gives_pytorchs_masks(tta):
    """float32 on both: the same mask to Dice >= 0.9999 (the refiner included), photos of
    either aspect ratio; the label names the backend."""
    ov = Predictor([DEFAULT], device="cpu", precision="fp32", backend="openvino", tta=tta)
    pt = Predictor([DEFAULT], device="cpu", precision="fp32", backend="torch", tta=tta)
    assert ov.device_label.endswith(", OpenVINO, float32"), ov.device_label
    assert pt.device_label.endswith(", PyTorch, float32"), pt.device_label
    for photo in PHOTOS:
        rgb = read_rgb(photo)
        a, b = ov.predict(rgb), pt.predict(rgb)
        assert a.shape == rgb.shape[:2] and a.any()
        assert dice(a, b) >= 0.9999, photo.name


def test_openvino_ensemble_and_checked_prediction():
    members = [MODELS / "cpu-lite0-384x576.safetensors", MODELS / "cpu-lite0-512x768.safetensors"]
    ov = Predictor(members, device="cpu", precision="fp32", backend="openvino")
    pt = Predictor(members, device="cpu", precision="fp32", backend="torch")
    rgb = read_rgb(PHOTOS[1])
    (a, ca), (b, cb) = ov.predict_checked(rgb), pt.predict_checked(rgb)
    assert dice(a, b) >= 0.9999
    assert abs(ca.value - cb.value) < 0.01


def test_auto_is_openvino_on_the_cpu_and_bf16_stays_close():
    auto = Predictor([DEFAULT], device="cpu")
    assert auto.backend == "openvino"
    fp32 = Predictor([DEFAULT], device="cpu", precision="fp32", backend="torch")
    assert str(auto.dtype).removeprefix("torch.") in auto.device_label
    rgb = read_rgb(PHOTOS[0])
    assert dice(auto.predict(rgb), fp32.predict(rgb)) > 0.998


def test_converted_once_then_reused_and_rebuilt_when_the_model_changes(
    tmp_path, monkeypatch, trained_model
):
    cache = tmp_path / "converted"
    monkeypatch.setenv("CARMASK_CONVERTED", str(cache))
    model_file = tmp_path / "studio.safetensors"
    shutil.copy(trained_model, model_file)
    rgb = read_rgb(PHOTOS[0])
    first = Predictor([model_file], device="cpu", backend="openvino")
    (entry,) = entries(cache)
    stamp = (entry / "unet.xml").stat().st_mtime_ns
    mask = first.predict(rgb)
    again = Predictor([model_file], device="cpu", backend="openvino")
    assert entries(cache) == [entry] and (entry / "unet.xml").stat().st_mtime_ns == stamp
    assert dice(again.predict(rgb), mask) == 1.0

    model, header = load_model(model_file)  # the studio fine-tunes: a new file, a new digest
    with torch.no_grad():
        model.head.bias += 1.0
    header.digest = ""
    save_model(model_file, model, header)
    changed = Predictor([model_file], device="cpu", backend="openvino")
    (new_entry,) = entries(cache)  # the stale copy is gone
    assert new_entry != entry
    reference = Predictor([model_file], device="cpu", precision="fp32", backend="torch")
    assert dice(changed.predict(rgb), reference.predict(rgb)) >= 0.999


def test_a_damaged_converted_model_is_rebuilt(tmp_path, monkeypatch, trained_model):
    cache = tmp_path / "converted"
    monkeypatch.setenv("CARMASK_CONVERTED", str(cache))
    Predictor([trained_model], device="cpu", backend="openvino")
    (entry,) = entries(cache)
    (entry / "unet.xml").write_bytes(b"<half a file")
    again = Predictor([trained_model], device="cpu", backend="openvino")
    assert again.backend == "openvino"
    assert (entry / "unet.xml").read_bytes() != b"<half a file"


def test_openvino_failing_to_load_falls_back_to_pytorch_and_says_why(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the package were broken
    with caplog.at_level(logging.WARNING):
        p = Predictor([DEFAULT], device="cpu")
    assert p.backend == "torch"
    assert "PyTorch" in p.device_label and "OpenVINO failed: cannot import" in p.device_label
    assert any("running on PyTorch" in r.getMessage() for r in caplog.records)
    assert p.predict(read_rgb(PHOTOS[2])).any()
    with pytest.raises(BackendError, match="OpenVINO cannot run"):
        Predictor([DEFAULT], device="cpu", backend="openvino")  # asked for by name: an error


SURVIVES_CTRL_C = """
import gc, os, signal, sys, time
import numpy as np
from engine.inference.predict import Predictor
# two models loaded together and released in the order they were made (`carmask evaluate`)
members = [Predictor([m], device="cpu", backend="openvino") for m in sys.argv[1:]]
for member in members:
    member.predict(np.zeros((96, 144, 3), np.uint8))
del members, member
gc.collect()
got = []
signal.signal(signal.SIGINT, lambda sig, frame: got.append(sig))
os.kill(os.getpid(), signal.SIGINT)
time.sleep(0.2)
print("interrupt handled", got)
"""


def test_ctrl_c_after_models_were_released_does_not_crash(tmp_path, trained_model):
    """Several OpenVINO models loaded and released, then Ctrl-C: the process handles it (a
    Core per model left the main thread's signal stack freed: a segmentation fault)."""
    import subprocess

    second = tmp_path / "second.safetensors"
    shutil.copy(trained_model, second)
    run = subprocess.run(
        [sys.executable, "-c", SURVIVES_CTRL_C, str(trained_model), str(second)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "interrupt handled [2]" in run.stdout


def test_cli_names_the_backend_and_refuses_one_that_cannot_run(
    tmp_path, monkeypatch, capsys, trained_model
):
    from engine.cli import main

    photos = [PHOTOS[2], next((DATA / "carvana" / "val").glob("*.jpg"))]
    common = [*map(str, photos), "--model", str(trained_model), "--format", "mask", "-q"]
    threads = torch.get_num_threads()
    assert main(["predict", *common, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "device: CPU (" in err and ", OpenVINO, " in err
    if threads >= 2:  # two photos at a time, each on half the threads
        assert f"({threads // 2} thread" in err and "; 2 photos at a time;" in err
    assert torch.get_num_threads() == threads  # given back after the batch
    assert main(["predict", *common, "--out", str(tmp_path / "b"), "--backend", "torch"]) == 0
    assert ", PyTorch, " in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "openvino", None)
    code = main(["predict", *common, "--out", str(tmp_path / "c"), "--backend", "openvino"])
    err = capsys.readouterr().err
    assert code == 2 and "error: OpenVINO cannot run the model: cannot import it" in err
    assert "pip install openvino" in err and not (tmp_path / "c").exists()
