"""The tests' tiny trained model, kept between runs outside the repository and its venv.

An entry is named by a digest of everything that decides the model (the training settings, the
fixture photos' bytes, the engine sources that train and save it, the library versions) and is
used only if its bytes match the digest recorded when it was written and it loads through the
engine's own safe loader (safetensors, header and weights checksums). Anything else is rebuilt.
Importable as `model_cache` from any test (tests/ is on the path through its conftest)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# what decides the tiny model besides its settings: the code that trains, builds and saves it
SOURCES = [ROOT / "engine" / name for name in ("training", "models", "modelfiles", "io")]
LIBRARIES = ("torch", "numpy", "pillow", "safetensors")
PATH_FIELDS = ("out", "data", "val_data")


def cache_folder() -> Path:
    """`$CARMASK_TEST_CACHE`, else `carmask-tests` in the user's cache folder."""
    if folder := os.environ.get("CARMASK_TEST_CACHE"):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "carmask-tests"


def _files(inputs: Iterable[Path]) -> list[tuple[str, Path]]:
    """(name, file) of each input file and of each file under each input folder."""
    found: list[tuple[str, Path]] = []
    for path in inputs:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".pyc")
            found += [(f"{path.name}/{p.relative_to(path).as_posix()}", p) for p in files]
        else:
            found.append((path.name, path))
    return found


def cache_key(settings: dict, inputs: Iterable[Path]) -> str:
    """Digest of the settings (JSON-ready), the inputs' bytes (files, or folders walked) and the
    library versions. The settings' paths (`PATH_FIELDS`) are left out: where the model is
    written does not change it, and the data's bytes are among the inputs."""
    h = hashlib.sha256()
    fields = {k: v for k, v in settings.items() if k not in PATH_FIELDS}
    h.update(json.dumps(fields, sort_keys=True).encode())
    h.update(platform.python_version().encode())
    for name in LIBRARIES:
        h.update(f"{name}=={version(name)}".encode())
    for name, path in _files(inputs):
        h.update(name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _sound(entry: Path, recorded: Path) -> bool:
    from engine.io.digest import file_digest
    from engine.modelfiles.checkpoint import load_model
    from engine.modelfiles.header import ModelFileError

    try:
        if recorded.read_text(encoding="ascii").strip() != file_digest(entry):
            return False
        load_model(entry)  # safetensors only; header and weights checksums verified
    except (OSError, UnicodeError, ModelFileError):
        return False
    return True


def cached_model(key: str, build: Callable[[Path], object], cache: Path | None = None) -> Path:
    """The model file cached under `key`, made by `build(path)` when the entry is missing,
    altered or does not load. Written atomically: the model, then its recorded digest."""
    from engine.io import atomic_write_bytes
    from engine.io.digest import file_digest

    cache = cache or cache_folder()
    entry = cache / f"tiny-{key[:32]}.safetensors"
    recorded = entry.with_suffix(".sha256")
    if _sound(entry, recorded):
        return entry
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="building-", dir=cache))
    try:
        built = work / entry.name
        build(built)
        digest = file_digest(built)
        os.replace(built, entry)
        atomic_write_bytes(recorded, digest.encode("ascii"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entry


IR_SOURCES = [
    ROOT / "engine" / "inference" / "backends" / name
    for name in ("export_ir.py", "ir_files.py", "openvino_model.py", "openvino_core.py")
]


def cached_ir(model_file: Path, cache: Path | None = None) -> Path:
    """`model_file` exported as OpenVINO IR (`engine.inference.backends.export_ir`), kept here
    keyed by the model file, the exporting code and the library versions; used only when
    `read_ir` finds every checksum right, else exported again (about 10 s)."""
    from engine.inference.backends.export_ir import export_ir
    from engine.inference.backends.ir_files import IRFileError, read_ir

    settings = {"ir": 1, "openvino": version("openvino")}
    key = cache_key(settings, [Path(model_file), *IR_SOURCES])
    entry = (cache or cache_folder()) / f"ir-{Path(model_file).stem[:40]}-{key[:32]}"
    try:
        read_ir(entry)
    except IRFileError:
        shutil.rmtree(entry, ignore_errors=True)
        export_ir(model_file, entry)
    return entry
