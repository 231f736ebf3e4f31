"""The two errors of reading and writing files, each naming the file and a human reason."""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["ImageReadError", "OutputWriteError", "os_error_reason"]


class ImageReadError(Exception):
    """A photo or mask could not be read. ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputWriteError(Exception):
    """An output file could not be written. ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def os_error_reason(exc: OSError) -> str:
    """A short, human reason for an OS-level error (no path, no errno number)."""
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENOENT: "folder does not exist",
        errno.ENOTDIR: "part of the folder path is a file, not a folder",
        errno.EISDIR: "is a folder, not a file",
        errno.EEXIST: "a file is in the way of the folder",
        errno.ENAMETOOLONG: "file name too long",
    }
    if exc.errno in reasons:
        return reasons[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__
