"""The photo on show: loaded with its masks on a worker, its touch-ups kept through the
`SessionModel` (a moment after the last stroke, and on any switch), and the strip of its car's
angles."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QListWidgetItem, QStatusBar

from app.editor import MaskDocument
from app.model import SessionModel
from app.session import Photo
from app.widgets.angle_strip import AngleStrip
from app.widgets.preview_caption import PreviewCaption
from app.widgets.queue_view import KEY_ROLE, QueueTree
from app.worker import call_in_pool

SAVE_DELAY_MS = 800  # touch-ups are saved this long after the last stroke (and on any switch)


class PreviewController(QObject):
    """Follows the queue's current photo; `current_key` is the photo on show ("" for none)."""

    shown = Signal(str)  # the photo (key) is on show, with its masks

    def __init__(
        self,
        model: SessionModel,
        document: MaskDocument,
        queue: QueueTree,
        strip: AngleStrip,
        caption: PreviewCaption,
        status: QStatusBar,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.model, self.document, self.queue = model, document, queue
        self.strip, self.caption, self.status = strip, caption, status
        self.current_key = ""
        self._loading_key = ""
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_touchup)
        queue.photo_selected.connect(self.show_photo)
        strip.currentItemChanged.connect(self._strip_changed)
        document.changed.connect(self._mask_edited)
        model.photos_removed.connect(self._removed)

    def current(self) -> str:
        return self.current_key

    # -- showing -----------------------------------------------------------------------------
    @Slot(str)
    def show_photo(self, key: str) -> None:
        """Load the photo and its masks on a worker, then show them."""
        if key != self.current_key:
            self.save_touchup()
        photo = self.model.photos.get(key)
        if photo is None:
            return
        self._loading_key = key
        session = self.model.session

        def load():
            from engine.io import read_rgb

            rgb = read_rgb(photo.path)
            return (key, rgb, *session.masks(photo))

        call_in_pool(load, self._photo_loaded, self._photo_load_failed)
        self.sync_strip(key)

    def _photo_loaded(self, result) -> None:
        key, rgb, model, mask = result
        if key != self._loading_key:
            return  # the operator moved on meanwhile
        if model is None or model.shape != rgb.shape[:2]:
            model = mask = np.zeros(rgb.shape[:2], bool)
        elif mask is None or mask.shape != rgb.shape[:2]:
            mask = model  # the document keeps its own copies
        self.current_key = key
        self.document.load(rgb, model, mask, key=key)
        photo = self.model.photos[key]
        keys = [p.key for p in self.car_photos(key)]
        position = keys.index(key) + 1 if key in keys else 1
        self.caption.show_photo(photo.name, photo.angle, position, max(1, len(keys)))
        self.shown.emit(key)

    def _photo_load_failed(self, message: str) -> None:
        self.status.showMessage(f"Cannot show the photo: {message}", 8000)

    def mask_written(self, key: str) -> None:
        """A new model mask for `key`: shown at once when it is the photo on show."""
        if key == self.current_key:
            self.show_photo(key)

    # -- touch-ups ---------------------------------------------------------------------------
    def _mask_edited(self, *_region) -> None:
        if self.current_key:
            self._save_timer.start()

    @Slot()
    def save_touchup(self) -> None:
        """Keep the operator's mask for the current photo (on a timer, on switch and on close)."""
        self._save_timer.stop()
        photo = self.model.photos.get(self.current_key)
        if photo is None or not photo.has_mask or self.document.mask is None:
            return
        stack = self.document.undo_stack
        if stack.isClean():  # the mask is what was loaded or last saved
            return
        self.model.save_touchup(photo, self.document.mask.copy(), self.document.model_mask)
        stack.setClean()

    def reset_mask(self) -> None:
        if self.current_key:
            self.document.reset_to_model()

    def leaving(self, keys: list[str]) -> None:
        """These photos are about to leave the queue: the stroke just painted goes (and comes
        back) with its photo."""
        if self.current_key in keys:
            self.save_touchup()

    def _removed(self, keys: list[str]) -> None:
        if self.current_key in keys:
            self.current_key = ""
            self.document.clear()
        if self._loading_key in keys:  # still loading: it must not show up once removed
            self._loading_key = ""
        for key in keys:
            self.document.forget(key)

    # -- the car's angles --------------------------------------------------------------------
    def car_photos(self, key: str) -> list[Photo]:
        photo = self.model.photos.get(key)
        return self.model.session.cars().get(photo.car, []) if photo else []

    def fill_strip(self, key: str = "") -> None:
        """The angles of `key`'s car (default: the photo shown or selected)."""
        key = key or self.current_key or self.queue.current_key()
        self.strip.fill(self.car_photos(key), self.queue.thumbnails)
        self.sync_strip(key)

    def sync_strip(self, key: str) -> None:
        if not self.strip.mark(key) and key in self.model.photos:  # another car
            self.strip.fill(self.car_photos(key), self.queue.thumbnails)
            self.strip.mark(key)

    def _strip_changed(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            self.queue.select(item.data(KEY_ROLE))

    def step_angle(self, delta: int) -> None:
        keys = [p.key for p in self.car_photos(self.current_key)]
        if self.current_key in keys:
            i = (keys.index(self.current_key) + delta) % len(keys)
            self.queue.select(keys[i])
