"""Finding the image files among files and folders, and why the other files are not used."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from engine.io.read import IMAGE_SUFFIXES

_OWN_PREFIXES = (".cm-", ".carmask")  # this tool's temp files and output records: not photos


def _unused_reason(path: Path) -> str | None:
    """Why a file found in a folder is not a photo to use, or None if it is a regular file."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop"
            return "broken symbolic link (its target is missing)"
    if not path.exists():
        return "vanished while the folder was read"
    if not path.is_file():
        return "not a regular file (a pipe, socket or device)"
    return None


def _suffix_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif"):
        return "HEIC photo, but pillow-heif is not installed (pip install pillow-heif)"
    if suffix == ".gif":
        return "GIF is not read as a photo (masks and animations use it)"
    return f"not a supported image type ({path.suffix or 'no extension'})"


def _images_in_folder(
    folder: Path, recursive: bool, suffixes: frozenset[str]
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files with these suffixes under ``folder`` sorted by path, and every other file there
    with the reason it is not used (hidden folders are not searched)."""
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        for name in files:
            path = Path(root, name)
            if name.startswith(_OWN_PREFIXES):
                continue
            if name.startswith("."):
                skipped.append((path, "hidden file"))
            elif Path(name).suffix.lower() not in suffixes:
                skipped.append((path, _suffix_reason(path)))
            elif (reason := _unused_reason(path)) is not None:
                skipped.append((path, reason))
            else:
                found.append(path)

    def order(p: tuple | Path):
        p = p[0] if isinstance(p, tuple) else p
        return str(p.relative_to(folder)).lower(), str(p)

    return sorted(found, key=order), sorted(skipped, key=order)


def find_images(
    inputs: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    suffixes: frozenset[str] | None = None,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into image paths (files with these suffixes).

    Returns ``(images, skipped)``: unique absolute image paths in input order (folder contents
    sorted by path), spelt as the user gave them (a link keeps its own name), and
    ``(path, reason)`` for every file given or found that is not used.
    """
    suffixes = IMAGE_SUFFIXES if suffixes is None else suffixes
    images: list[Path] = []
    seen: dict[Path, Path] = {}
    skipped: list[tuple[Path, str]] = []

    def add(p: Path) -> None:
        resolved = p.resolve()
        if resolved not in seen:
            seen[resolved] = p
            images.append(p)
        elif seen[resolved] != p:  # a link to, or another spelling of, a photo already listed
            skipped.append((p, f"the same file as {seen[resolved]}"))

    for item in inputs:
        p = Path(os.path.abspath(Path(item).expanduser()))
        if p.is_dir():
            found, unused = _images_in_folder(p, recursive, suffixes)
            for f in found:
                add(f)
            skipped += unused
        elif p.is_file():
            if p.suffix.lower() in suffixes:
                add(p)
            else:
                skipped.append((p, _suffix_reason(p)))
        elif os.path.lexists(p):
            skipped.append((p, _unused_reason(p) or "not a regular file"))
        else:
            skipped.append((p, "not found"))
    return images, skipped
