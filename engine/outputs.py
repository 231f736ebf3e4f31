"""Where a batch's outputs go, and the record of what CarMask wrote there.

The rule: an output never replaces an input of the batch, nor any file that CarMask did not
write. Each output folder keeps a record, `.carmask-outputs.jsonl` (one JSON line per file
written: name, size, modification time, source photo). A file counts as CarMask's own only while
its size and time still match a line of that record, so a cutout a person has since edited, or a
file copied in under the same name, is theirs again and is never overwritten.

Names are planned for the whole batch before anything is written (`OutputPlan.assign`): the
photo's own stem where that is free, else ``{stem}_{ext}``, then a number. The plan depends only on
the inputs and on what is in the output folders, so a rerun writes the same files.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from engine.io import (
    OutputWriteError,
    atomic_write,
    os_error_reason,
    remove_stale_temp_files,
)

__all__ = ["MANIFEST_NAME", "NAME_PATTERNS", "OutputFolder", "OutputPlan", "written_by_carmask"]

MANIFEST_NAME = ".carmask-outputs.jsonl"
NAME_PATTERNS = {
    "png": "{stem}.png",
    "mask": "{stem}_mask.png",
    "jpg": "{stem}.jpg",
    "listing": "{stem}_listing.jpg",  # framed with its car's other angles (engine.listing)
}


def _key(path: Path) -> tuple[str, str]:
    """A file's identity for clash checks: resolved folder + name, case-folded (a studio's photos
    may sit on a case-insensitive disk, where Car.PNG and car.png are one file)."""
    try:
        folder = path.parent.resolve()
    except OSError:
        folder = path.parent.absolute()
    return str(folder).casefold(), path.name.casefold()


class OutputFolder:
    """One output folder and its record of the files CarMask wrote into it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder)
        self.record = self.path / MANIFEST_NAME
        self._lock = threading.Lock()
        self._seen: dict[str, set[tuple[int, int]]] = {}
        self._cleaned = False
        try:
            lines = self.record.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []  # no record (or an unreadable one): nothing here counts as ours
        for line in lines:
            try:
                e = json.loads(line)
                self._seen.setdefault(str(e["name"]), set()).add(
                    (int(e["size"]), int(e["mtime_ns"]))
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash

    def owns(self, path: Path) -> bool:
        """True if ``path`` (in this folder) is a file CarMask wrote and nobody changed since."""
        try:
            st = os.lstat(path)
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) in self._seen.get(path.name, ())

    def in_the_way(self, path: Path) -> bool:
        """True if writing ``path`` would replace something that is not CarMask's own output."""
        return os.path.lexists(path) and not self.owns(path)

    def prepare(self, first_output: Path) -> None:
        """Create the folder (once) and remove temp files left by a killed run."""
        if self._cleaned:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            raise OutputWriteError(
                first_output, f"output folder {self.path} is a file, not a folder"
            ) from exc
        except OSError as exc:
            reason = f"cannot create output folder {self.path}: {os_error_reason(exc)}"
            raise OutputWriteError(first_output, reason) from exc
        if not self.path.is_dir():
            reason = f"output folder {self.path} is a file, not a folder"
            raise OutputWriteError(first_output, reason)
        remove_stale_temp_files(self.path)
        self._cleaned = True

    def note(self, name: str, tmp: Path, source: Path) -> None:
        """Record that ``tmp`` is about to become ``name`` (called before the rename, so that a
        crash between the two leaves a file that still counts as ours)."""
        st = os.stat(tmp)
        line = json.dumps(
            {"name": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "from": str(source)},
            ensure_ascii=False,
        )
        with self._lock:
            try:
                with open(self.record, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise OutputWriteError(self.record, os_error_reason(exc)) from exc
            self._seen.setdefault(name, set()).add((st.st_size, st.st_mtime_ns))


class OutputPlan:
    """Output names for a batch of photos, chosen so that nothing a studio owns is replaced."""

    def __init__(
        self,
        formats: Iterable[str],
        inputs: Iterable[str | os.PathLike[str]] = (),
        listing_names: dict[Path, str] | None = None,
    ):
        """`listing_names`: a photo's listing frame is named `<name>.jpg` (a name template's,
        `engine.listing.naming`) instead of `{stem}_listing.jpg`; taken, it becomes
        `<name>_listing.jpg`, then `<name>_listing_2.jpg`, ..."""
        self.formats = tuple(f.lower() for f in formats)
        self._listing_names = {Path(k): v for k, v in (listing_names or {}).items()}
        for fmt in self.formats:
            if fmt not in NAME_PATTERNS:
                valid = ", ".join(NAME_PATTERNS)
                raise ValueError(f"unknown export format {fmt!r}; valid formats: {valid}")
        self._inputs = {_key(Path(p)) for p in inputs}
        self._claimed: set[tuple[str, str]] = set()
        self._folders: dict[str, OutputFolder] = {}
        self._paths: dict[Path, dict[str, Path]] = {}

    def folder(self, out_dir: str | os.PathLike[str]) -> OutputFolder:
        key = str(Path(out_dir).absolute())
        if key not in self._folders:
            self._folders[key] = OutputFolder(out_dir)
        return self._folders[key]

    def _free(self, path: Path, folder: OutputFolder) -> bool:
        key = _key(path)
        return key not in self._claimed and key not in self._inputs and not folder.in_the_way(path)

    def assign(self, photo: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict:
        """Choose (once) and return the output file per format for ``photo``."""
        photo = Path(photo)
        if photo in self._paths:
            return self._paths[photo]
        self._inputs.add(_key(photo))
        folder = self.folder(out_dir)
        named = self._listing_names.get(photo)
        regular = [f for f in self.formats if not (named and f == "listing")]
        for stem in _stems(photo):
            paths = {f: folder.path / NAME_PATTERNS[f].format(stem=stem) for f in regular}
            if all(self._free(p, folder) for p in paths.values()):
                break
        if named and "listing" in self.formats:  # its own name, stepping aside on its own
            taken = {_key(p) for p in paths.values()}
            for name in _variants(named, "listing"):
                frame = folder.path / f"{name}.jpg"
                if _key(frame) not in taken and self._free(frame, folder):
                    paths["listing"] = frame
                    break
        self._claimed.update(_key(p) for p in paths.values())
        self._paths[photo] = paths
        return paths

    def claim(self, base: str, suffix: str, out_dir: str | os.PathLike[str]) -> Path:
        """A free name for a file of the batch's own (a car's spin page): `<base><suffix>`,
        else `<base>_<tag><suffix>`, then numbered, as `assign` chooses."""
        folder = self.folder(out_dir)
        for name in _variants(base, suffix.lstrip(".")):
            path = folder.path / f"{name}{suffix}"
            if self._free(path, folder):
                self._claimed.add(_key(path))
                return path
        raise AssertionError("unreachable: _variants never ends")

    def write(self, path: Path, photo: Path, write: Callable) -> Path:
        """Write one planned output atomically (``write(file)`` fills it) and record it.

        Checks again just before writing: a file that appeared meanwhile is not replaced."""
        folder = self.folder(path.parent)
        if _key(path) in self._inputs or _same_file(path, photo):
            raise OutputWriteError(
                path, "would overwrite an input photo; choose another output folder"
            )
        folder.prepare(path)
        if folder.in_the_way(path):
            raise OutputWriteError(
                path, "a file CarMask did not write is in the way (it was left as it is)"
            )
        return atomic_write(
            path, write, before_replace=lambda tmp: folder.note(path.name, tmp, photo)
        )


def _stems(photo: Path):
    """The photo's stem, then ``{stem}_{ext}``, then ``{stem}_{ext}_2``, ..."""
    return _variants(photo.stem, photo.suffix.lstrip(".").lower() or "photo")


def _variants(base: str, tag: str):
    """``base``, then ``{base}_{tag}``, then ``{base}_{tag}_2``, ..."""
    yield base
    yield f"{base}_{tag}"
    n = 2
    while True:
        yield f"{base}_{tag}_{n}"
        n += 1


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def written_by_carmask(files: Iterable[Path]) -> set[Path]:
    """Those of ``files`` that an output record beside them lists as CarMask's own outputs."""
    folders: dict[Path, OutputFolder] = {}
    mine = set()
    for f in files:
        folder = folders.setdefault(f.parent, OutputFolder(f.parent))
        if folder.owns(f):
            mine.add(f)
    return mine
