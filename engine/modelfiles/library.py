"""Where model files live: the shipped models and the user's model library.

`resources/models/manifest.json` names the shipped default and the shipped ensemble:
{"default": "FILE.safetensors", "ensemble": ["A.safetensors", "B.safetensors", ...]}.
CARMASK_RESOURCES, CARMASK_LIBRARY and CARMASK_DATA override the folders (tests, bundles,
screenshots): on every platform, not only where XDG_DATA_HOME means something.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

APP_NAME = "CarMask Studio"


class NoModelError(ValueError):
    """No model file was given and none is shipped."""


def resources_dir() -> Path:
    env = os.environ.get("CARMASK_RESOURCES")
    if env:
        return Path(env)
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def shipped_models_dir() -> Path:
    return resources_dir() / "models"


def user_data_dir() -> Path:
    env = os.environ.get("CARMASK_DATA")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_NAME


def user_library_dir() -> Path:
    env = os.environ.get("CARMASK_LIBRARY")
    return Path(env) if env else user_data_dir() / "models"


def library_dirs() -> list[Path]:
    return [shipped_models_dir(), user_library_dir()]


def _manifest() -> dict:
    path = shipped_models_dir() / "manifest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def default_model_paths() -> list[Path]:
    name = _manifest().get("default")
    if not name:
        raise NoModelError(
            f"no default model is shipped in {shipped_models_dir()}; pass --model FILE "
            "(train one with `carmask train`)"
        )
    return [shipped_models_dir() / name]


def ensemble_model_paths() -> list[Path]:
    names = _manifest().get("ensemble") or []
    if not names:
        raise NoModelError(f"no ensemble is shipped in {shipped_models_dir()}")
    return [shipped_models_dir() / n for n in names]


def chosen_model_paths(models=(), ensemble: bool = False) -> list[Path]:
    """The command-line rule: the --model files, then the shipped ensemble with --ensemble;
    with neither, the shipped default."""
    paths = [Path(m) for m in models or ()]  # argparse leaves an unused append option None
    if ensemble:
        paths += ensemble_model_paths()
    return paths or default_model_paths()


def list_library(dirs=None):
    """Every model file in the library folders (shipped first), and the files that could not be
    read: ([(path, ModelHeader)], [ModelFileError]). Reads headers only, without torch."""
    from engine.modelfiles.header import list_models

    found, errors = [], []
    for folder in library_dirs() if dirs is None else dirs:
        models, bad = list_models(folder)
        found += models
        errors += bad
    return found, errors
