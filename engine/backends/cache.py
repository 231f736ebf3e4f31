"""Where converted models live: one folder per (model digest, converter) beside the user's data.

`user_data_dir()/converted/<model name>-<digest[:16]>-<backend key>/`, written to a temporary
folder first and renamed into place (a crash never leaves a half-written entry), with a
`source.json` naming the model file and its digest. When a model file changes (a new digest),
its entry is rebuilt and the stale entries of the same file are removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.library import user_data_dir

log = logging.getLogger(__name__)
SOURCE = "source.json"


def converted_dir() -> Path:
    env = os.environ.get("CARMASK_CONVERTED")
    return Path(env) if env else user_data_dir() / "converted"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60]


def cached_entry(
    model_file: Path, name: str, digest: str, key: str, build: Callable[[Path], None]
) -> Path:
    """The cache folder for this model and converter `key`; `build(folder)` fills a new one."""
    root = converted_dir()
    entry = root / f"{_safe(name)}-{digest[:16]}-{_safe(key)}"
    if (entry / SOURCE).is_file():
        return entry
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build(work)
        source = {"model_file": str(Path(model_file).resolve()), "digest": digest, "key": key}
        (work / SOURCE).write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")
        try:
            os.replace(work, entry)
        except OSError:  # another process built the same entry meanwhile: use that one
            if not (entry / SOURCE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _remove_stale(root, entry, Path(model_file).resolve())
    return entry


def discard(entry: Path) -> None:
    """Remove an entry that failed to load (it is rebuilt on the next use)."""
    log.warning("removing the unreadable converted model %s", entry)
    shutil.rmtree(entry, ignore_errors=True)


def _remove_stale(root: Path, keep: Path, model_file: Path) -> None:
    """Entries made from the same model file before it changed (another digest)."""
    for other in root.iterdir():
        if other == keep or not (other / SOURCE).is_file():
            continue
        try:
            source = json.loads((other / SOURCE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if source.get("model_file") == str(model_file):
            log.info("removing %s: its model file has changed", other.name)
            shutil.rmtree(other, ignore_errors=True)
