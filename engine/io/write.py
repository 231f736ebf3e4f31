"""Writing outputs atomically: a temp file beside the target, fsync, rename; stale temps removed."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from engine.io.errors import OutputWriteError, os_error_reason


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask() is process-wide and not thread-safe


TEMP_PREFIX = ".cm-"  # CarMask's temp files: .cm-<pid>-<random>.tmp (short: long names fit)
_STALE_AFTER_S = 3600.0


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> int:
    """Remove CarMask temp files in ``folder`` left by a run that was killed (its process is
    gone, or the file is over an hour old). Returns how many were removed."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for e in entries:
        if not (e.name.startswith(TEMP_PREFIX) and e.name.endswith(".tmp")):
            continue
        try:
            pid = int(e.name[len(TEMP_PREFIX) :].split("-", 1)[0])
            old = now - e.stat(follow_symlinks=False).st_mtime > _STALE_AFTER_S
        except (ValueError, OSError):
            continue
        if old or not process_alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(e.path)
                removed += 1
    return removed


def process_alive(pid: int) -> bool:
    """True if process `pid` (on this machine) still runs, or there is no way to tell."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (PermissionError), or no way to ask (Windows)
        return True
    return True


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    before_replace: Callable[[Path], None] | None = None,
) -> Path:
    """Write a file via a temp file in the same folder, fsync, then ``os.replace`` onto ``path``.

    On any error the temp file is removed, an existing ``path`` is left untouched, and
    OutputWriteError(path, reason) is raised. Creates no folders. ``before_replace(tmp)`` is
    called with the complete temp file just before the rename. Returns the final path.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed explicitly below
            dir=path.parent, delete=False, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp"
        )
    except OSError as exc:
        raise OutputWriteError(path, os_error_reason(exc)) from exc
    tmp_path = Path(tmp.name)
    try:
        with tmp:
            write(tmp)  # type: ignore[arg-type]
            tmp.flush()
            os.fsync(tmp.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(tmp.fileno(), mode)
        if before_replace is not None:
            before_replace(tmp_path)
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OutputWriteError):
            raise
        if isinstance(exc, OSError):
            raise OutputWriteError(path, os_error_reason(exc)) from exc
        if isinstance(exc, Exception):
            raise OutputWriteError(path, str(exc) or type(exc).__name__) from exc
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (see atomic_write)."""

    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike[str], value: object, indent: int = 1) -> Path:
    """`value` as indented JSON (and a final newline) at `path`, atomically; the folder is made
    if it is missing (benchmark reports)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, (json.dumps(value, indent=indent) + "\n").encode())


def image_writer(
    image: np.ndarray, format: str, **save_kwargs: object
) -> Callable[[BinaryIO], None]:
    """A function that saves an HxW (L), HxWx3 (RGB) or HxWx4 (RGBA) uint8 array with Pillow
    into an open file (for `atomic_write`). Bool HxW arrays are saved as 0/255; other shapes or
    dtypes raise ValueError here, before any file is opened."""
    arr = np.asarray(image)
    if arr.dtype == np.bool_ and arr.ndim == 2:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    pil = Image.fromarray(np.ascontiguousarray(arr))
    return lambda f: pil.save(f, format=format, **save_kwargs)


def save_image_atomic(
    path: str | os.PathLike[str], image: np.ndarray, format: str, **save_kwargs: object
) -> Path:
    """Save an image array atomically with Pillow (see `image_writer`). Raises ValueError for
    bad arrays and OutputWriteError if the file cannot be written."""
    return atomic_write(path, image_writer(image, format, **save_kwargs))
