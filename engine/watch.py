"""The hot folder: photos that land in a folder (a tethered camera, a card reader copying files)
are handed on once each file is complete, in the order they arrived.

`FolderWatcher` is Qt-free and segments nothing: watchdog's observer (inotify, FSEvents,
ReadDirectoryChangesW) says which files appeared or changed, and a checker thread hands a photo
to `on_ready(path)` once its size and modification time have not changed for `settle_s` seconds
and it can be opened for reading (a copier on Windows keeps it locked until done). Files
already in the folder when it starts are handed on too, oldest first: what was done before a
restart is recognised by the consumer (the manifest, `engine.manifest`), not here. A file that
changes again later is handed on again.

Its consumers: `carmask watch` (`engine.cli.watch.HotFolder`: each photo read, segmented and
exported as `carmask predict` does, recorded in the manifest) and the app's Watch folder (which
queues them as dropped files are queued).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.io import IMAGE_SUFFIXES, TEMP_PREFIX

log = logging.getLogger(__name__)

__all__ = ["FolderWatcher", "is_candidate"]

_OWN_PREFIXES = (TEMP_PREFIX, ".carmask")


def is_candidate(path: Path) -> bool:
    """A photo file by its name (not hidden, not CarMask's own temp or record files)."""
    name = path.name
    return (
        not name.startswith(".")
        and not name.startswith(_OWN_PREFIXES)
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


@dataclass
class _Seen:
    order: int  # arrival
    signature: tuple[int, int] = (-1, -1)  # (size, mtime_ns) at the last look
    since: float = field(default_factory=time.monotonic)  # when it last changed


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return bool(f.read(1))
    except OSError:
        return False


class FolderWatcher:
    """Hands each complete photo of `folder` (and its subfolders) to `on_ready`, once."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        on_ready: Callable[[Path], None],
        settle_s: float = 2.0,
        poll_s: float = 0.2,
        recursive: bool = True,
        ignore: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.folder = Path(folder).absolute()
        self.on_ready = on_ready
        self.settle_s, self.poll_s, self.recursive = settle_s, poll_s, recursive
        self._ignore = [Path(p).absolute() for p in ignore]
        self._lock = threading.Lock()
        self._pending: dict[Path, _Seen] = {}
        self._handed: dict[Path, tuple[int, int]] = {}
        self._arrivals = 0
        self._stop = threading.Event()
        self._observer: Any = None  # watchdog's Observer, imported at start
        self._checker: threading.Thread | None = None

    # -- what the observer says ---------------------------------------------------------------
    def _wanted(self, path: Path) -> bool:
        if not is_candidate(path):
            return False
        try:
            relative = path.relative_to(self.folder)
        except ValueError:
            return False
        if any(part.startswith(".") for part in relative.parts[:-1]):
            return False  # hidden folders (.Trash, a copier's staging) are not searched
        if not self.recursive and len(relative.parts) > 1:
            return False
        return not any(path == i or i in path.parents for i in self._ignore)

    def seen(self, path: str | os.PathLike[str]) -> None:
        """A file appeared or changed (called by the observer; callable by hand)."""
        path = Path(path).absolute()
        if not self._wanted(path):
            return
        with self._lock:
            if path not in self._pending:
                self._arrivals += 1
                self._pending[path] = _Seen(self._arrivals)

    def _existing(self) -> list[Path]:
        found = []
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if self.recursive else []
            found += [Path(root, f) for f in files]
        found = [p for p in found if self._wanted(p)]
        return sorted(found, key=lambda p: (_signature(p) or (0, 0))[1])  # oldest first

    # -- the checker --------------------------------------------------------------------------
    def check(self) -> list[Path]:
        """One look at the files waiting: those complete now, handed on in arrival order."""
        now = time.monotonic()
        ready: list[tuple[int, Path]] = []
        with self._lock:
            for path, seen in list(self._pending.items()):
                sig = _signature(path)
                if sig is None:  # gone (moved away, deleted)
                    del self._pending[path]
                elif sig != seen.signature:
                    seen.signature, seen.since = sig, now
                elif sig[0] > 0 and now - seen.since >= self.settle_s:
                    if self._handed.get(path) == sig:
                        del self._pending[path]  # an event without a change
                    elif _readable(path):
                        ready.append((seen.order, path))
            ready.sort()
            for _, path in ready:
                self._handed[path] = self._pending.pop(path).signature
        for _, path in ready:
            try:
                self.on_ready(path)
            except Exception:  # the consumer's problem must not stop the watching
                log.exception("hot folder: handing on %s failed", path)
        return [p for _, p in ready]

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    # -- start and stop -----------------------------------------------------------------------
    def start(self) -> FolderWatcher:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        if not self.folder.is_dir():
            raise ValueError(f"{self.folder}: not a folder")
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.is_directory:
                    if event.event_type in ("created", "moved"):  # a folder copied in at once
                        where = Path(os.fsdecode(getattr(event, "dest_path", "") or event.src_path))
                        for root, _dirs, files in os.walk(where):
                            for f in files:
                                watcher.seen(Path(root, f))
                    return
                if event.event_type in ("created", "modified", "closed"):
                    watcher.seen(os.fsdecode(event.src_path))
                elif event.event_type == "moved":
                    watcher.seen(os.fsdecode(event.dest_path))

        observer = Observer()
        observer.schedule(Handler(), str(self.folder), recursive=self.recursive)
        observer.daemon = True
        observer.start()
        self._observer = observer
        for path in self._existing():  # after the observer starts: nothing falls in between
            self.seen(path)
        self._checker = threading.Thread(target=self._run, name="carmask-watch", daemon=True)
        self._checker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        if self._checker is not None and self._checker is not threading.current_thread():
            self._checker.join(5)
        self._checker = None

    def __enter__(self) -> FolderWatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)
