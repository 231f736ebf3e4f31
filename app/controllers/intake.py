"""Photos into the queue: dropped or chosen files and folders are scanned on a worker, the good
ones queued through the `SessionModel` (each file once), the problems listed, and their
thumbnails made on a worker too."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStatusBar

from app.model import SessionModel
from app.session import Session
from app.widgets.queue_view import QueueTree, make_thumbnail
from app.worker import call_in_pool


class IntakeController(QObject):
    thumbnails_made = Signal()  # the queue has new thumbnails (the angle strip shows them too)

    def __init__(
        self, model: SessionModel, queue: QueueTree, status: QStatusBar, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.model, self.queue, self.status = model, queue, status

    def add_paths(self, paths: list[str]) -> None:
        """Scan files/folders on a worker, then queue the good photos and list the problems."""
        self.status.showMessage("Scanning…")
        call_in_pool(lambda: Session.scan(paths), self._scanned, self._scan_failed)

    def _scanned(self, result) -> None:
        report = self.model.add_checked(*result)  # the queue follows (`queue_changed`)
        self.thumbnails_for([p.key for p in report.added])
        self.status.showMessage(report.summary(), 8000)
        if not self.queue.current_key() and report.added:
            self.queue.select(report.added[0].key)

    def _scan_failed(self, message: str) -> None:
        self.status.showMessage(f"Could not add the photos: {message}", 8000)

    def thumbnails_for(self, keys: list[str]) -> None:
        photos = self.model.photos
        paths = [(k, photos[k].path) for k in keys if k in photos]
        if not paths:
            return

        def make():
            return [(k, make_thumbnail(p)) for k, p in paths]

        call_in_pool(make, self._thumbnails_made)

    def _thumbnails_made(self, pairs: list[tuple[str, QImage | None]]) -> None:
        for key, image in pairs:
            self.queue.set_thumbnail(key, image)
        self.thumbnails_made.emit()
