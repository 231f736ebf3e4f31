"""The hot folder: photos that land in a folder (a tethered camera, a card reader copying files)
are handed on once each file is complete, in the order they arrived.

`FolderWatcher` is Qt-free and segments nothing: watchdog's observer (inotify, FSEvents,
ReadDirectoryChangesW) says which files appeared or changed, and a checker thread hands a photo
to `on_ready(path)` once its size and modification time have not changed for `settle_s` seconds
and it can be opened for reading (a copier on Windows keeps it locked until done). Files
already in the folder when it starts are handed on too, oldest first: what was done before a
restart is recognised by the consumer (the manifest, `engine.batch.manifest`), not here. A file that
changes again later is handed on again.

The folder itself may go away (a card reader unplugged, a share unmounted, the folder deleted or
renamed): the checker looks at it at every poll, says so through `on_status`, waits for it (a
look every `poll_s`, a reminder every `remind_s`), and once a folder is there again at that
path (recreated, remounted) watches it afresh, its photos handed on as at the start.

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

REMIND_S = 60.0  # while the folder is gone, said again this often

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


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, None when no folder is there."""
    try:
        st = folder.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(folder) else None


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
        on_status: Callable[[str], None] | None = None,
        remind_s: float = REMIND_S,
    ) -> None:
        self.folder = Path(folder).absolute()
        self.on_ready = on_ready
        self.on_status = on_status if on_status is not None else log.warning
        self.remind_s = remind_s
        self._identity: tuple[int, int] | None = None  # the folder being watched
        self._gone_since: float | None = None  # when it went away; None while it is there
        self._reminded = 0.0
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
            if self.look_at_folder():
                self.check()

    def look_at_folder(self) -> bool:
        """Whether the watched folder is still the one watched; when it went away, says so and
        waits; when one is there again, watches it (True from then on)."""
        now = _identity(self.folder)
        if now is not None and now == self._identity and self._observing():
            return True
        if now is None:
            t = time.monotonic()
            if self._gone_since is None:
                self._gone_since = self._reminded = t
                self._stop_observer()
                self._say(
                    f"{self.folder}: the folder is gone (removed, renamed or unmounted); "
                    "waiting for it to come back"
                )
            elif t - self._reminded >= self.remind_s:
                self._reminded = t
                minutes = (t - self._gone_since) / 60
                self._say(f"{self.folder}: still gone after {minutes:.0f} min; waiting for it")
            return False
        # there again, or another folder at its place (recreated, remounted)
        self._stop_observer()
        self._gone_since = None
        try:
            self._watch()
        except OSError as exc:
            self._identity = None
            self._gone_since = self._reminded = time.monotonic()
            self._say(f"{self.folder}: cannot be watched ({exc}); waiting for it")
            return False
        self._say(f"{self.folder}: the folder is there again; watching it")
        return True

    def _say(self, message: str) -> None:
        try:
            self.on_status(message)
        except Exception:
            log.exception("hot folder: saying %r failed", message)

    # -- start and stop -----------------------------------------------------------------------
    def start(self) -> FolderWatcher:
        if not self.folder.is_dir():
            raise ValueError(f"{self.folder}: not a folder")
        self._watch()
        self._checker = threading.Thread(target=self._run, name="carmask-watch", daemon=True)
        self._checker.start()
        return self

    def _watch(self) -> None:
        """The observer on the folder as it is now, and the photos already in it."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        self._identity = _identity(self.folder)
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

    def _observing(self) -> bool:
        """The observer still hears the folder (its emitter ends when the folder is deleted,
        even when a new one gets the same inode before the next look)."""
        observer = self._observer
        return observer is not None and all(e.is_alive() for e in observer.emitters)

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(5)

    def stop(self) -> None:
        self._stop.set()
        if self._checker is not None and self._checker is not threading.current_thread():
            self._checker.join(5)  # first: it may be starting an observer again
        self._checker = None
        self._stop_observer()

    def __enter__(self) -> FolderWatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)
