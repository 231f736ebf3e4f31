"""Watch folder: photos that land in a folder (a tethered camera, a card reader) are
queued as dropped photos are, once each file is complete, and segmented.

The watching is the engine's (`engine.batch.watch.FolderWatcher`, started on a worker as it lists
the
folder, then on its own threads); each complete
file comes back here through a Qt signal (queued onto the UI thread), is added with the intake's
`add_paths` (the drag-and-drop path: scanned on a worker, queued once), and, when no batch runs,
the batch starts for the photos that arrived. The folder is remembered and watched again at the
next start; closing the window stops the watching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QStatusBar

from app.controllers.batch import BatchController
from app.model import SessionModel
from app.settings import Settings
from app.worker import call_in_pool

log = logging.getLogger(__name__)

FLUSH_MS = 300  # files arriving together are queued together
START_CHECK_MS = 1000  # how often a waiting arrival is looked at while a batch runs


class WatchFolderFeed(QObject):
    """Feeds the queue from a watched folder (`start`, `stop`): arrivals are added with
    `add_paths` (as a drop is), and the batch starts for them."""

    arrived = Signal(str)  # emitted on the watcher's thread; received on the UI thread
    watching_changed = Signal(bool)

    def __init__(
        self,
        model: SessionModel,
        settings: Settings,
        batch: BatchController,
        status: QStatusBar,
        add_paths: Callable[[list[str]], None],
        parent: QObject,
        settle_s: float = 2.0,
    ) -> None:
        super().__init__(parent)
        self.model, self.settings, self.batch, self.status = model, settings, batch, status
        self.add_paths = add_paths
        self.settle_s = settle_s
        self.watcher = None
        self.folder: Path | None = None
        self._starting: Path | None = None  # a watcher being started on a worker
        self._waiting: list[str] = []  # arrived, not yet handed to add_paths
        self._arrivals: set[Path] = set()  # queued from the folder, batch not yet started
        self.label = QLabel("")
        self.label.setVisible(False)
        status.addPermanentWidget(self.label)
        self.arrived.connect(self._arrived)
        self._flush_timer = QTimer(self, singleShot=True, interval=FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._start_timer = QTimer(self, interval=START_CHECK_MS)
        self._start_timer.timeout.connect(self._start_batch)

    @property
    def watching(self) -> bool:
        return self.watcher is not None

    def start(self, folder: str | Path) -> None:
        """Watch `folder` (instead of any other). The watcher starts on a worker (it lists the
        folder); a folder that cannot be watched is said in the status bar."""
        from engine.batch.watch import FolderWatcher

        self.stop()
        folder = Path(folder)
        self._starting = folder
        settle = self.settle_s

        def begin():
            return FolderWatcher(folder, self._found, settle_s=settle).start()

        call_in_pool(
            begin, lambda w: self._started(folder, w), lambda m: self._not_started(folder, m)
        )

    def _started(self, folder: Path, watcher) -> None:
        if self._starting != folder:  # stopped (or another folder chosen) meanwhile
            watcher.stop()
            return
        self._starting = None
        self.watcher, self.folder = watcher, folder
        self.settings.watch_folder = str(folder)
        self.label.setText(f"watching: {folder.name}")
        self.label.setToolTip(f"New photos in {folder} are queued and segmented")
        self.label.setVisible(True)
        self._start_timer.start()
        self._update_actions()
        self.status.showMessage(f"Watching {folder} for new photos", 8000)

    def _not_started(self, folder: Path, message: str) -> None:
        if self._starting == folder:
            self._starting = None
        hint = " (pip install watchdog)" if "watchdog" in message else ""
        self.status.showMessage(f"Cannot watch {folder}: {message}{hint}", 10000)

    def stop(self, forget: bool = True) -> None:
        self._starting = None
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self._start_timer.stop()
        self.folder = None
        if forget:
            self.settings.watch_folder = ""
        self.label.setVisible(False)
        self._update_actions()

    def resume(self) -> None:
        """Watch the folder watched when the app was last closed, if it is still there."""
        folder = self.settings.watch_folder
        if folder and Path(folder).is_dir():
            self.start(folder)

    def _update_actions(self) -> None:
        self.watching_changed.emit(self.watching)

    # -- arrivals ---------------------------------------------------------------------------
    def _found(self, path: Path) -> None:  # the watcher's thread
        self.arrived.emit(str(path))

    @Slot(str)
    def _arrived(self, path: str) -> None:
        if self.watcher is None:
            return  # stopped meanwhile
        self._waiting.append(path)
        self._arrivals.add(Path(path).absolute())
        self._flush_timer.start()

    def _flush(self) -> None:
        paths, self._waiting = self._waiting, []
        if paths:
            self.add_paths(paths)  # as a drop: scanned on a worker, each file queued once

    def _start_batch(self) -> None:
        """Start the batch once the arrivals are queued and no batch runs."""
        if not self._arrivals or self.batch.busy or self._waiting:
            return
        from app.session import QUEUED

        queued = {Path(p.path).absolute() for p in self.model.photos.values()}
        waiting = {
            Path(p.path).absolute() for p in self.model.photos.values() if p.status == QUEUED
        }
        if not self._arrivals & queued:
            return  # still being scanned
        self._arrivals -= queued  # the batch takes these (or they are already done)
        if waiting and self.batch.has_model():
            self.batch.start()

    # -- closing ----------------------------------------------------------------------------
    def window_closed(self) -> None:
        """The window closes: the watching stops (the folder stays remembered for the next
        start)."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
