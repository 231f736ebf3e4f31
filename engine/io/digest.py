"""SHA-256 digests of files and bytes, as `sha256:<hex>`: the batch's ledger, the converted-model
cache and the model files' checksums compare them."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def bytes_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
