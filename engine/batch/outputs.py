"""Where a batch's outputs go, and the record of what CarMask wrote there.

The rule: an output never replaces an input of the batch, nor any file that CarMask did not
write, nor CarMask's output of another photo. Each output folder keeps a record,
`.carmask-outputs.jsonl` (one JSON line per file written: name, size, modification time, source
photo). A file counts as CarMask's own only while its size and time still match a line of that
record, so a cutout a person has since edited, or a file copied in under the same name, is theirs
again and is never overwritten; and it may be replaced only by a new output of the photo it was
made from, so a second shoot's `IMG_0001.jpg` never replaces the first shoot's cutout.

Names are planned for the whole batch before anything is written (`OutputPlan.assign`): the
photo's own stem where that is free, else ``{stem}_{ext}``, then a number. The plan depends only on
the inputs and on what is in the output folders, so a rerun writes the same files. A name is
claimed as it is chosen, with the record locked, by a line of the record (`claim`, the photo,
the process): a name claimed for another photo by a run still going is not free, so batches, the
app's Export and a watched folder writing into one folder at once never give one name to two
photos. A claim lapses when its process ends; by then its file, if written, is in the record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor

from engine.io import (
    OutputWriteError,
    atomic_write,
    os_error_reason,
    process_alive,
    remove_stale_temp_files,
)

__all__ = [
    "MANIFEST_NAME",
    "NAME_PATTERNS",
    "OutputFolder",
    "OutputPlan",
    "changed_outputs",
    "source_id",
    "written_by_carmask",
]

MANIFEST_NAME = ".carmask-outputs.jsonl"
LOCK_WAIT_S = 60.0  # another run holds the lock for milliseconds; this long means it hangs
FOREIGN_CLAIM_S = 24 * 3600.0  # a claim made on another machine (a shared folder) lasts a day
NAME_PATTERNS = {
    "png": "{stem}.png",
    "mask": "{stem}_mask.png",
    "jpg": "{stem}.jpg",
    "listing": "{stem}_listing.jpg",  # framed with its car's other angles (engine.listing)
}
_HOST = socket.gethostname()
_log = logging.getLogger(__name__)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # s3://..., gs://... (not C:/)


def _key(path: Path) -> tuple[str, str]:
    """A file's identity for clash checks: resolved folder + name, case-folded (a studio's photos
    may sit on a case-insensitive disk, where Car.PNG and car.png are one file)."""
    try:
        folder = path.parent.resolve()
    except OSError:
        folder = path.parent.absolute()
    return str(folder).casefold(), path.name.casefold()


def source_id(photo: str | os.PathLike[str]) -> str:
    """How the record names the photo an output was made from: its absolute path as given (a
    link keeps its own name), or its URI."""
    text = os.fspath(photo)
    if m := _URI.match(text):  # as given, or as a Path spells it (s3:/bucket/...)
        return f"{m.group()}/{text[m.end() :].lstrip('/')}"
    return os.path.abspath(text)


def _same_source(a: str, b: str) -> bool:
    return os.path.normcase(a) == os.path.normcase(b)


class _Claims:
    """The names claimed in a folder by runs still going, and those claimed now (to be saved)."""

    def __init__(self, entries: Iterable[dict]) -> None:
        self.added: list[dict] = []
        self._by_name: dict[str, set[str]] = {}
        self._mine: set[tuple[str, str]] = set()  # this process's claims: not made twice
        for e in entries:
            self._by_name.setdefault(e["claim"].casefold(), set()).add(e["from"])
            if e.get("pid") == os.getpid() and e.get("host") == _HOST:
                self._mine.add((e["claim"].casefold(), e["from"]))

    def held_by_other(self, name: str, source: str) -> bool:
        """True if `name` is claimed for a photo other than `source` by a run still going."""
        return any(not _same_source(s, source) for s in self._by_name.get(name.casefold(), ()))

    def add(self, name: str, source: str) -> None:
        if (name.casefold(), source) in self._mine:
            return
        self._mine.add((name.casefold(), source))
        self._by_name.setdefault(name.casefold(), set()).add(source)
        entry = {"claim": name, "from": source, "pid": os.getpid(), "host": _HOST}
        self.added.append({**entry, "time": round(time.time())})


@contextlib.contextmanager
def _locked(fd: int, path: Path) -> Iterator[None]:
    """An exclusive lock on the open file `fd` (`path`) against other processes, waited for at
    most LOCK_WAIT_S. On a disk that has no locks (some network shares) the claims go on without
    one: the names are still claimed, only two runs choosing in the same millisecond could
    clash."""
    deadline = time.monotonic() + LOCK_WAIT_S
    try:
        while not lock_descriptor(fd, blocking=False):
            if time.monotonic() > deadline:
                reason = f"another run has held the record locked for {LOCK_WAIT_S:.0f} s"
                raise OutputWriteError(path, reason)
            time.sleep(0.02)
    except OSError as exc:
        _log.warning("%s: cannot be locked (%s); names claimed without a lock", path, exc)
        yield
        return
    try:
        yield
    finally:
        unlock_descriptor(fd)


def _live(entry: dict) -> bool:
    """A claim whose run may still write it: its process runs (or, made on another machine,
    it is under a day old)."""
    try:
        if entry["host"] == _HOST:
            return process_alive(int(entry["pid"]))
        return time.time() - float(entry["time"]) < FOREIGN_CLAIM_S
    except (KeyError, TypeError, ValueError):
        return False


class OutputFolder:
    """One output folder and its record of the files CarMask wrote into it."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder)
        self.record = self.path / MANIFEST_NAME
        self._lock = threading.RLock()
        self._seen: dict[str, dict[tuple[int, int], str]] = {}  # name -> (size, time) -> photo
        self._claims: dict[tuple, dict] = {}  # the names runs claimed (`_Claims`), once each
        self._read_to = 0
        self._cleaned = False
        self._refresh()

    def _refresh(self) -> None:
        """Read the lines added to the record since it was last read (by any run)."""
        try:
            with open(self.record, "rb") as f:
                if os.fstat(f.fileno()).st_size < self._read_to:  # replaced: read it anew
                    self._read_to, self._seen, self._claims = 0, {}, {}
                f.seek(self._read_to)
                data = f.read()
        except OSError:
            return  # no record (or an unreadable one): nothing here counts as ours
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._read_to += end
        for line in data[:end].splitlines():
            try:
                e = json.loads(line)
                if "claim" in e:
                    who = (str(e["claim"]), str(e["from"]), e.get("pid"), e.get("host"))
                    self._claims[who] = {**e, "claim": who[0], "from": who[1]}
                    continue
                stamp = (int(e["size"]), int(e["mtime_ns"]))
                source = source_id(e["from"]) if e.get("from") else ""
                self._seen.setdefault(str(e["name"]), {})[stamp] = source
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash

    def _source_of(self, path: Path) -> str | None:
        """The photo ``path`` is CarMask's output of, if nobody changed the file since."""
        try:
            st = os.lstat(path)
        except OSError:
            return None
        with self._lock:
            found = self._seen.get(path.name, {}).get((st.st_size, st.st_mtime_ns))
            if found is None:
                self._refresh()  # another run may have written it meanwhile
                found = self._seen.get(path.name, {}).get((st.st_size, st.st_mtime_ns))
        return found

    def owns(self, path: Path) -> bool:
        """True if ``path`` (in this folder) is a file CarMask wrote and nobody changed since."""
        return self._source_of(path) is not None

    def recorded_source(self, path: Path) -> str | None:
        """The photo the record says a file of this name was made from (changed since or not)."""
        with self._lock:
            sources = list(self._seen.get(path.name, {}).values())
        return sources[-1] if sources else None

    def obstacle(self, path: Path, source: str) -> str | None:
        """Why ``path`` may not be written as an output of photo ``source`` (None: it may)."""
        if not os.path.lexists(path):
            return None
        made_from = self._source_of(path)
        if made_from is None:
            return "a file CarMask did not write is in the way (it was left as it is)"
        if not _same_source(made_from, source):
            return f"CarMask's output of another photo ({made_from}) is there (left as it is)"
        return None

    def made_from(self, path: Path, source: str) -> bool:
        """True if ``path`` is CarMask's output of the photo ``source``, unchanged."""
        made_from = self._source_of(path)
        return made_from is not None and _same_source(made_from, source)

    def in_the_way(self, path: Path, source: str) -> bool:
        """True if writing ``path`` would replace something that is not CarMask's own output of
        the photo ``source`` (`source_id`)."""
        return self.obstacle(path, source) is not None

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

    @contextlib.contextmanager
    def claiming(self) -> Iterator[_Claims]:
        """The record locked against other runs (and threads), with the names they claimed;
        the names claimed meanwhile are added to it before the lock is let go. Where the folder
        cannot be made or the record opened (its writes fail and say why), nothing is claimed."""
        try:
            self.prepare(self.record)
            fd = os.open(self.record, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except (OutputWriteError, OSError):
            yield _Claims(())
            return
        try:
            with self._lock, _locked(fd, self.record):
                self._refresh()
                self._claims = {k: e for k, e in self._claims.items() if _live(e)}
                claims = _Claims(self._claims.values())
                yield claims
                if claims.added:
                    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in claims.added)
                    self._append(text)
        finally:
            os.close(fd)

    def note(self, name: str, tmp: Path, source: str) -> None:
        """Record that ``tmp`` is about to become ``name``, an output of photo ``source`` (called
        before the rename, so that a crash between the two leaves a file that still counts as
        ours)."""
        st = os.stat(tmp)
        line = json.dumps(
            {"name": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "from": source},
            ensure_ascii=False,
        )
        with self._lock:
            self._append(line + "\n")
            self._seen.setdefault(name, {})[(st.st_size, st.st_mtime_ns)] = source

    def _append(self, text: str) -> None:
        try:
            with open(self.record, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise OutputWriteError(self.record, os_error_reason(exc)) from exc


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

    def source(self, photo: str | os.PathLike[str]) -> str:
        """The photo as the record names it (`source_id`)."""
        return source_id(photo)

    def keep_clear(self, path: str | os.PathLike[str]) -> None:
        """No output of this plan is named ``path`` (the batch's report)."""
        self._inputs.add(_key(Path(path)))

    def _free(self, path: Path, folder: OutputFolder, source: str, claims: _Claims) -> bool:
        key = _key(path)
        if key in self._claimed or key in self._inputs:
            return False
        return not claims.held_by_other(path.name, source) and not folder.in_the_way(path, source)

    def assign(self, photo: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict:
        """Choose (once), claim and return the output file per format for ``photo``."""
        return self.assign_all([photo], out_dir)[Path(photo)]

    def assign_all(
        self, photos: Iterable[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
    ) -> dict[Path, dict[str, Path]]:
        """`assign` for many photos into one folder, claimed under one lock. Raises
        OutputWriteError when the folder stays locked (another run hangs) or the claims cannot
        be saved."""
        given = [Path(p) for p in photos]
        new = [p for p in dict.fromkeys(given) if p not in self._paths]
        if new:
            folder = self.folder(out_dir)
            with folder.claiming() as claims:
                for photo in new:
                    self._choose(photo, folder, claims)
        return {p: self._paths[p] for p in given}

    def _choose(self, photo: Path, folder: OutputFolder, claims: _Claims) -> None:
        self._inputs.add(_key(photo))
        source = self.source(photo)
        named = self._listing_names.get(photo)
        regular = [f for f in self.formats if not (named and f == "listing")]
        for stem in _stems(photo):
            paths = {f: folder.path / NAME_PATTERNS[f].format(stem=stem) for f in regular}
            if all(self._free(p, folder, source, claims) for p in paths.values()):
                break
        if named and "listing" in self.formats:  # its own name, stepping aside on its own
            taken = {_key(p) for p in paths.values()}
            for name in _variants(named, "listing"):
                frame = folder.path / f"{name}.jpg"
                if _key(frame) not in taken and self._free(frame, folder, source, claims):
                    paths["listing"] = frame
                    break
        for path in paths.values():
            self._claimed.add(_key(path))
            if not folder.made_from(path, source):  # its own output: no other photo takes it
                claims.add(path.name, source)
        self._paths[photo] = paths

    def claim(
        self,
        base: str,
        suffix: str,
        out_dir: str | os.PathLike[str],
        photo: str | os.PathLike[str] | None = None,
    ) -> Path:
        """A free name for a file of the batch's own, made from ``photo`` (a car's spin page):
        `<base><suffix>`, else `<base>_<tag><suffix>`, then numbered, as `assign` chooses."""
        folder = self.folder(out_dir)
        source = self.source(photo) if photo is not None else ""
        with folder.claiming() as claims:
            for name in _variants(base, suffix.lstrip(".")):
                path = folder.path / f"{name}{suffix}"
                if self._free(path, folder, source, claims):
                    self._claimed.add(_key(path))
                    claims.add(path.name, source)
                    return path
        raise AssertionError("unreachable: _variants never ends")

    def write(self, path: Path, photo: Path, write: Callable) -> Path:
        """Write one planned output atomically (``write(file)`` fills it) and record it.

        Checks again just before the rename: a file that appeared meanwhile is not replaced."""
        folder = self.folder(path.parent)
        if _key(path) in self._inputs or _same_file(path, photo):
            raise OutputWriteError(
                path, "would overwrite an input photo; choose another output folder"
            )
        folder.prepare(path)
        source = self.source(photo)

        def check_then_note(tmp: Path) -> None:
            if (reason := folder.obstacle(path, source)) is not None:
                raise OutputWriteError(path, reason)
            folder.note(path.name, tmp, source)

        if (reason := folder.obstacle(path, source)) is not None:  # before encoding, too
            raise OutputWriteError(path, reason)
        return atomic_write(path, write, before_replace=check_then_note)


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
    return {f for f in files if _folder_of(f, folders).owns(f)}


def changed_outputs(files: Iterable[Path]) -> dict[Path, str]:
    """Those of ``files`` that CarMask wrote and that changed since (a retouched cutout), with
    the photo each was made from."""
    folders: dict[Path, OutputFolder] = {}
    changed = {}
    for f in files:
        folder = _folder_of(f, folders)
        if not folder.owns(f) and (source := folder.recorded_source(f)) is not None:
            changed[f] = source
    return changed


def _folder_of(file: Path, folders: dict[Path, OutputFolder]) -> OutputFolder:
    if file.parent not in folders:
        folders[file.parent] = OutputFolder(file.parent)
    return folders[file.parent]
