"""The CPU edition is this code without PyTorch (`engine.inference.editions`): it segments with
the shipped models pre-converted for OpenVINO, gives the torch path's masks, and says by name
what needs the full edition. Each test runs the real `carmask` or window in a child process in
which torch cannot be imported, as in the CPU bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_cache import cached_ir

from engine.io import read_mask, read_rgb
from engine.training.metrics import dice

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"
DEFAULT = MODELS / "cpu-lite0-448x672-any-studio.safetensors"
PHOTOS = [
    ROOT / "resources" / "samples" / "1a17a1bd648b_01.jpg",
    ROOT / "resources" / "samples" / "1a17a1bd648b_06.jpg",
    ROOT / "tests" / "data" / "web-cars" / "images" / "rf_valid_Carro_23.jpg",
]
NO_TORCH = """
import importlib.abc, sys
class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "torchvision"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTorch())
"""


@pytest.fixture(scope="module")
def cpu_edition(tmp_path_factory) -> dict:
    """The environment of a CPU-edition process: torch unimportable (a `sitecustomize`), the
    shipped default converted as the build converts it (`resources/converted/<model>/`)."""
    root = tmp_path_factory.mktemp("cpu-edition")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(NO_TORCH)
    shutil.copytree(cached_ir(DEFAULT), root / "converted" / DEFAULT.stem)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PYTHONPATH=str(root / "site"),
        CARMASK_CONVERTED_MODELS=str(root / "converted"),
        OMP_NUM_THREADS="2",
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def python(env: dict, *args: str) -> subprocess.CompletedProcess:
    """This Python in the CPU edition's environment, from the repository's root."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def carmask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return python(env, "-m", "engine.cli", *args)


def test_torch_really_is_missing_there(cpu_edition):
    r = python(cpu_edition, "-c", "import torch")
    assert r.returncode == 1 and "No module named 'torch'" in r.stderr


def test_the_cpu_edition_cuts_out_the_torch_paths_cars(cpu_edition, tmp_path):
    from engine.inference.predict import Predictor

    out = tmp_path / "out"
    r = carmask(cpu_edition, "predict", *map(str, PHOTOS), "--out", str(out), "--format", "mask")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"done: {len(PHOTOS)}, failed: 0" in r.stdout
    assert "OpenVINO, float32" in r.stdout  # the device and precision in use, said
    full = Predictor([DEFAULT], device="cpu", precision="fp32", backend="openvino")
    for photo in PHOTOS:
        mask = read_mask(out / f"{photo.stem}_mask.png")
        assert dice(mask, full.predict(read_rgb(photo))) >= 0.9999, photo.name


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["train", "--data", "{tmp}", "--out", "{tmp}/m.safetensors"], "training"),
        (
            [
                "finetune",
                "--model",
                str(DEFAULT),
                "--data",
                "{tmp}",
                "--out",
                "{tmp}/m.safetensors",
            ],
            "fine-tuning",
        ),
        (["--engine-train", "--config", "{tmp}/run.json"], "training"),  # the wizard's child
        (
            ["predict", str(PHOTOS[0]), "--out", "{tmp}/o", "--device", "cuda"],
            "a CUDA GPU (--device cuda)",
        ),
        (
            ["predict", str(PHOTOS[0]), "--out", "{tmp}/o", "--backend", "torch"],
            "the PyTorch backend (--backend torch)",
        ),
    ],
)
def test_what_needs_torch_is_refused_by_name(cpu_edition, tmp_path, command, what):
    r = carmask(cpu_edition, *(a.format(tmp=tmp_path) for a in command))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"error: {what} needs the full edition of CarMask Studio" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_model_file_with_no_converted_folder_is_refused_naming_the_file(cpu_edition, tmp_path):
    other = MODELS / "cpu-lite0-256x384.safetensors"
    r = carmask(
        cpu_edition, "predict", str(PHOTOS[0]), "--out", str(tmp_path), "--model", str(other)
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(other) in r.stderr and "full edition" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_changed_model_file_never_runs_on_the_folder_converted_from_the_original(
    cpu_edition, tmp_path
):
    """The converted folder is found by the model's name and used only for the very bytes it was
    converted from (SHA-256): a retrained file of the same name is refused, not run as the old."""
    changed = tmp_path / "models" / DEFAULT.name
    changed.parent.mkdir()
    data = bytearray(DEFAULT.read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    out = tmp_path / "out"
    r = carmask(cpu_edition, "predict", str(PHOTOS[0]), "--out", str(out), "--model", str(changed))
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(changed) in r.stderr and "full edition" in r.stderr
    assert not out.exists() or list(out.iterdir()) == []


WINDOW = """
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings
app = QApplication([])
from app.settings import Settings
from app.window import MainWindow
store = QSettings({ini!r}, QSettings.Format.IniFormat)
w = MainWindow(session_dir={session!r}, settings=Settings(store))
print("title:", w.windowTitle())
print("devices:", [w.device_combo.itemText(i) for i in range(w.device_combo.count())])
print("wizard:", w.open_finetune())
print("says:", w.edition_box.text(), w.edition_box.informativeText())
w.edition_box.close()
w.close()  # as a user quits: the window stops its workers and saves
app.processEvents()
del w  # before the application: left to the interpreter's exit, either may go first (a crash)
del app
"""


def test_the_window_says_it_is_the_cpu_edition_and_what_fine_tuning_needs(cpu_edition, tmp_path):
    script = WINDOW.format(session=str(tmp_path / "session"), ini=str(tmp_path / "s.ini"))
    r = python(cpu_edition, "-c", script)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    assert lines["title"].endswith("(CPU edition)")
    assert lines["devices"] == "['cpu']"  # no CUDA to offer
    assert lines["wizard"] == "None"
    assert "Fine-tuning needs the full edition" in lines["says"]
    assert "carmask-studio" in lines["says"]  # which package to install


def test_the_self_test_passes_in_the_cpu_edition(cpu_edition):
    r = python(cpu_edition, "-m", "app.main", "--self-test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test ok: device CPU (2 threads), OpenVINO, float32" in r.stdout
    assert "Traceback" not in r.stderr
    assert np.isfinite(float(r.stdout.rsplit("car fraction ", 1)[1]))


def test_a_converted_folder_given_as_the_model_runs_and_counts_in_the_ledger(cpu_edition, tmp_path):
    """What the refusal of a model file says to do: convert it in the full edition, then
    `--model FOLDER` here (it failed with a traceback: the ledger hashed the folder as a file)."""
    folder = Path(cpu_edition["CARMASK_CONVERTED_MODELS"]) / DEFAULT.stem
    out = tmp_path / "out"
    args = ("predict", str(PHOTOS[0]), "--out", str(out), "--model", str(folder), "-q")
    first = carmask(cpu_edition, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "done: 1, failed: 0" in first.stdout and (out / f"{PHOTOS[0].stem}.png").is_file()
    again = carmask(cpu_edition, *args)
    assert "already done: 1" in again.stdout, again.stdout  # the folder's digest is stable


def test_the_full_edition_names_a_converted_folder_given_as_a_model_file(tmp_path, capsys):
    from engine.cli import main

    folder = cached_ir(DEFAULT)
    code = main(["predict", str(PHOTOS[0]), "--out", str(tmp_path), "--model", str(folder)])
    assert code == 2
    assert "a folder, not a model file" in capsys.readouterr().err
