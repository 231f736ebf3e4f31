"""Where converted models live: one folder per (model digest, converter) beside the user's data.

`user_data_dir()/converted/<model name>-<digest[:16]>-<backend key>/`, written to a temporary
folder first and renamed into place (a crash never leaves a half-written entry), with a
`source.json` naming the model file, its digest and the SHA-256 of every file the converter
wrote. Each use checks those digests first: an entry whose files changed on disk (a bad sector,
a sync tool, a stray edit), lost one, or has no readable `source.json` is removed and built
again, with a warning, so a damaged copy never cuts out a photo. When a model file changes (a
new digest), its entry is rebuilt and the stale entries of the same file are removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.io.digest import file_digest
from engine.modelfiles.library import user_data_dir

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
    """The cache folder for this model and converter `key`, its files checked against the
    digests written with them; `build(folder)` fills a new one (or replaces a damaged one)."""
    root = converted_dir()
    entry = root / f"{_safe(name)}-{digest[:16]}-{_safe(key)}"
    if entry.exists():
        problem = entry_problem(entry)
        if problem is None:
            return entry
        log.warning("the converted model %s is damaged (%s): building it again", entry, problem)
        shutil.rmtree(entry, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        build(work)
        files = {p.name: file_digest(p) for p in sorted(work.iterdir()) if p.is_file()}
        source = {
            "model_file": str(Path(model_file).resolve()),
            "digest": digest,
            "key": key,
            "files": files,
        }
        (work / SOURCE).write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")
        try:
            os.replace(work, entry)
        except OSError:  # another process built the same entry meanwhile: use that one
            if entry_problem(entry) is not None:
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _remove_stale(root, entry, Path(model_file).resolve())
    return entry


def entry_problem(entry: Path) -> str | None:
    """Why a cache entry cannot be used as it is (None when every file has its digest)."""
    try:
        source = json.loads((entry / SOURCE).read_text(encoding="utf-8"))
        files = source["files"]
        if not isinstance(files, dict) or not files:
            raise TypeError
    except FileNotFoundError:
        return f"{SOURCE} is missing"
    except (OSError, ValueError, TypeError, KeyError):
        return f"{SOURCE} is unreadable or holds no file digests"
    for name, expected in files.items():
        path = entry / str(name)
        if not path.is_file():
            return f"{name} is missing"
        try:
            if file_digest(path) != expected:
                return f"{name} does not match its SHA-256"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or exc})"
    return None


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
