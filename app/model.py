"""The session as Qt sees it: `SessionModel` owns the Qt-free `Session`, is its only writer (on
the UI thread) and signals what changed, so that the views follow it and the controllers need
not know who shows what.

- `queue_changed`: photos were added, removed or brought back, or the problem list changed
  (the queue is rebuilt).
- `photo_changed(key)`: one photo's status or fields changed (its row is shown anew).
- `photos_removed(keys)`: those photos left the queue (sent before `queue_changed`, so that
  the preview lets go of them first).

Reading goes straight to `session` (`model.session.photos`, `.cars()`, `.mask(photo)`...).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.session import PROCESSING, QUEUED, AddReport, Photo, Removal, Session, Status


class SessionModel(QObject):
    queue_changed = Signal()
    photo_changed = Signal(str)
    photos_removed = Signal(list)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    @property
    def session(self) -> Session:
        return self._session

    @property
    def photos(self) -> dict[str, Photo]:
        return self._session.photos

    def _changed(self, photos: Iterable[Photo]) -> None:
        for photo in photos:
            self.photo_changed.emit(photo.key)

    # -- the queue ---------------------------------------------------------------------------
    def add_checked(
        self, good: list[tuple[Path, tuple[int, int]]], problems: list[tuple[Path, str]]
    ) -> AddReport:
        report = self._session.add_checked(good, problems)
        self.queue_changed.emit()
        return report

    def remove(self, keys: list[str]) -> Removal:
        removal = self._session.remove(keys)
        self.photos_removed.emit(list(keys))
        self.queue_changed.emit()
        return removal

    def undo_remove(self) -> list[Photo]:
        back = self._session.undo_remove()
        if back:
            self.queue_changed.emit()
        return back

    def forget_removed(self) -> None:
        self._session.forget_removed()

    def clear_problems(self) -> None:
        self._session.clear_problems()
        self.queue_changed.emit()

    # -- statuses ----------------------------------------------------------------------------
    def set_status(
        self, photo: Photo, status: Status, error: str = "", save: bool = True, **fields
    ) -> None:
        self._session.set_status(photo, status, error, save=save, **fields)
        self.photo_changed.emit(photo.key)

    def show_processing(self, photo: Photo) -> None:
        """Shown only: saved as queued if the app stops now."""
        photo.status = PROCESSING
        self.photo_changed.emit(photo.key)

    def unfinished_to_queued(self) -> None:
        """A batch ended: the photo it was on is queued again (not saved: the caller saves)."""
        for photo in self._session.photos.values():
            if photo.status == PROCESSING:
                self.set_status(photo, QUEUED, save=False)

    def requeue(self, photos: list[Photo], discard_touchups: Iterable[str] = ()) -> None:
        self._session.requeue(photos, discard_touchups)
        self._changed(photos)

    def settle_reruns(self) -> list[Photo]:
        back = self._session.settle_reruns()
        self._changed(back)
        return back

    def set_reasons(self, photo: Photo, reasons: list[str]) -> None:
        """The reasons found against the car's other angles (not saved: the caller saves)."""
        photo.set_reasons = reasons
        self.photo_changed.emit(photo.key)

    def accept(self, photo: Photo) -> None:
        self.set_status(photo, photo.status, reviewed=True)

    # -- touch-ups ---------------------------------------------------------------------------
    def save_touchup(self, photo: Photo, mask: np.ndarray, model: np.ndarray | None = None) -> None:
        self._session.save_touchup(photo, mask, model)
        self.photo_changed.emit(photo.key)

    def save(self) -> None:
        self._session.save()
