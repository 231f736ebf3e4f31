"""Shared fixtures: real Carvana photos (downscaled) and a small model really trained on them."""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CARMASK_OFFLINE", "1")  # tests never download weights
# models converted for OpenVINO (`engine.inference.backends`): once per model file for the whole
# run, never into the user's own data folder, and removed when the run ends (some 600 MB a run)
if "CARMASK_CONVERTED" not in os.environ:
    os.environ["CARMASK_CONVERTED"] = _CONVERTED = tempfile.mkdtemp(prefix="carmask-converted-")
    atexit.register(shutil.rmtree, _CONVERTED, ignore_errors=True)

from factories import CARVANA, train_config, train_settings  # the tiny run's base config
from model_cache import SOURCES, cache_key, cached_model  # the tiny model kept between runs
from slow_tests import SLOW  # marked `slow` here: `pytest -m "not slow"` skips them

ROOT = Path(__file__).resolve().parent.parent

# run only when `-m` names them (`pytest -m heavy`, `-m "gpu and not heavy"`), so that another
# expression (`pytest -m "not slow"`, the fast tests) never brings them in
OPT_IN = ("heavy", "gpu", "bundle")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path, _, name = item.nodeid.partition("::")
        if path in SLOW or f"{path}::{name.partition('[')[0]}" in SLOW:
            item.add_marker(pytest.mark.slow)
    expression = config.getoption("markexpr") or ""
    named = {m for m in OPT_IN if re.search(rf"\b{m}\b", expression)}
    held = [i for i in items if any(i.get_closest_marker(m) for m in OPT_IN if m not in named)]
    if held:
        config.hook.pytest_deselected(items=held)
        items[:] = [i for i in items if i not in held]


@pytest.fixture(scope="session")
def load_script():
    """Import a script of benchmarks/ or packaging/ (not packages) by its path under the repo."""

    def load(relative: str):
        path = ROOT / relative
        spec = importlib.util.spec_from_file_location(
            f"script_{path.parent.name}_{path.stem}", path
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def carvana() -> Path:
    return CARVANA


TINY_RUN = dict(name="tiny", epochs=16, schedule="cosine", resume=False)


def train_tiny(out: Path) -> None:
    from engine.training.trainer import Trainer

    Trainer(train_config(out, **TINY_RUN)).run()


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    """A small U-Net trained for 32 steps on the real train photos (CPU, about 20 s), kept in
    the test cache (`model_cache`) between runs: retrained only when its settings, the fixture
    photos, the training code or the libraries change, or when the cached file is damaged.

    It reaches a validation Dice of about 0.86 on the val photos: enough to test that the
    pipeline finds cars, far from a shipped model. Each run gets its own copy."""
    key = cache_key(train_settings("", **TINY_RUN), [CARVANA, *SOURCES])
    out = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    shutil.copy(cached_model(key, train_tiny), out)
    return out


@pytest.fixture
def tiny_library(tmp_path, monkeypatch, trained_model) -> Path:
    """A model library holding the tiny trained model (`tiny.safetensors`); nothing shipped."""
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(trained_model, library / "tiny.safetensors")
    monkeypatch.setenv("CARMASK_LIBRARY", str(library))
    monkeypatch.setenv("CARMASK_RESOURCES", str(tmp_path / "no-resources"))
    return library


class UiTicks:
    """A 20 ms UI timer: `gaps()` between its ticks show whether the window kept answering."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer(interval=20)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.timer.start()

    def gaps(self) -> list[float]:
        self.timer.stop()
        return list(np.diff(self.ticks))


@pytest.fixture
def ui_ticks() -> UiTicks:
    return UiTicks()


@pytest.fixture
def open_window(qtbot, tmp_path):
    """Opens the studio window on a session and settings kept in tmp_path; call it again to
    reopen them (as after closing the app)."""
    from PySide6.QtCore import QSettings

    from app.settings import Settings
    from app.window import MainWindow

    def open_() -> MainWindow:
        store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(session_dir=tmp_path / "session", settings=Settings(store))
        qtbot.addWidget(window)
        window.show()
        return window

    return open_
