"""The batch queue as a tree: car → its angles, each with a thumbnail and its status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

from app.session import DONE, FAILED, PROCESSING, QUEUED, TOUCHED, Session, needs_review
from engine.review.angles import missing_angles

THUMB = QSize(72, 48)
REVIEW_COLOUR = "#ff9f1a"
KEY_ROLE = Qt.ItemDataRole.UserRole
STATUS_TEXT = {
    QUEUED: "queued",
    PROCESSING: "processing…",
    DONE: "done",
    FAILED: "failed",
    TOUCHED: "touched up",
}
STATUS_COLOUR = {
    QUEUED: "#9aa5b1",
    PROCESSING: "#4aa3ff",
    DONE: "#3ec46d",
    FAILED: "#ff5c5c",
    TOUCHED: "#f5b942",
}
# the same hues, darker: readable on the light theme's near-white (contrast 4.5:1 or more)
LIGHT_COLOUR = {
    QUEUED: "#5f6b77",
    PROCESSING: "#0b5cad",
    DONE: "#1b7a3a",
    FAILED: "#c62828",
    TOUCHED: "#8a5a00",
}
LIGHT_REVIEW_COLOUR = "#a84700"


def light_theme() -> bool:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    return app is not None and app.property("carmask_theme") == "light"


def status_colour(status) -> str:
    return (LIGHT_COLOUR if light_theme() else STATUS_COLOUR).get(status, "#808080")


def review_colour() -> str:
    """The colour of "needs review", readable on the theme in use."""
    return LIGHT_REVIEW_COLOUR if light_theme() else REVIEW_COLOUR


def make_thumbnail(path: Path) -> QImage | None:
    """A small QImage of a photo (safe off the UI thread; JPEGs decode at reduced size)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.draft("RGB", (THUMB.width() * 2, THUMB.height() * 2))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((THUMB.width(), THUMB.height()))
            arr = np.ascontiguousarray(np.asarray(im))
    except (OSError, ValueError):
        return None
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [c for i in range(item.childCount()) if (c := item.child(i)) is not None]


def reasons_text(photo) -> str:
    """The photo's confidence and the reasons to look at it, a line each (for tooltips)."""
    text = f"confidence {photo.confidence:.2f}" if photo.confidence >= 0 else ""
    return text + "".join(f"\n· {reason}" for reason in (*photo.reasons, *photo.set_reasons))


class QueueTree(QTreeWidget):
    photo_selected = Signal(str)  # key of the current photo ("" when a car or nothing)
    status_shown = Signal(str)  # key of a photo whose status was just shown anew

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Photo", "Status"])
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # the status column takes what the photo column leaves: "angle 09" is never cut off
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self._fit_timer = QTimer(self, singleShot=True, interval=0)  # once per burst of changes
        self._fit_timer.timeout.connect(self._fit_columns)
        self.setIconSize(THUMB)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformRowHeights(False)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.cars: dict[str, QTreeWidgetItem] = {}
        self.thumbnails: dict[str, QIcon] = {}
        self._keep = None  # the filter in force (`filter`), None: every photo shown
        self.currentItemChanged.connect(self._current_changed)

    def rebuild(self, session: Session) -> None:
        """Show the session's photos: a turntable's angles under their car ("car 1a17a1bd648b",
        then "angle 01"...), any other photo as a row of its own (keeps the current photo)."""
        current = self.current_key()
        self.items, self.cars = {}, {}  # first: clear() may call back (the current row goes)
        self.clear()
        for car, photos in session.cars().items():
            if photos[0].angle is None:  # a single photo (a phone's, IMG_1234.jpg)
                self.addTopLevelItem(self._photo_item(photos[0]))
                self.show_status(photos[0])
                continue
            top = QTreeWidgetItem([f"car {car}", ""])
            top.setToolTip(0, f"car {car}: {len(photos)} photo(s)")
            self.addTopLevelItem(top)
            self.cars[car] = top
            for photo in photos:
                top.addChild(self._photo_item(photo))
                self.show_status(photo)
            top.setExpanded(True)
            self._car_summary(car, session)
        if current in self.items:
            self.setCurrentItem(self.items[current])
        if self._keep is not None:
            self.filter(self._keep, session)

    def _photo_item(self, photo) -> QTreeWidgetItem:
        item = QTreeWidgetItem([photo.label, ""])
        item.setData(0, KEY_ROLE, photo.key)
        if photo.key in self.thumbnails:
            item.setIcon(0, self.thumbnails[photo.key])
        self.items[photo.key] = item
        return item

    def set_thumbnail(self, key: str, image: QImage | None) -> None:
        if image is None:
            return
        icon = QIcon(QPixmap.fromImage(image))
        self.thumbnails[key] = icon
        if key in self.items:
            self.items[key].setIcon(0, icon)

    def show_status(self, photo, session: Session | None = None) -> None:
        item = self.items.get(photo.key)
        if item is None:
            return
        text = STATUS_TEXT.get(photo.status, photo.status)
        colour = status_colour(photo.status)
        if photo.status == FAILED and photo.error:
            text = f"failed: {photo.error}"
        elif needs_review(photo):
            why = "angles" if photo.set_reasons else f"{photo.confidence:.2f}"
            if photo.reasons and not photo.set_reasons:  # its first reason's name
                why = photo.reasons[0].split(":")[0]
            text, colour = f"⚑ needs review ({why})", review_colour()
        elif photo.reviewed and photo.has_mask:
            text = "reviewed"
        item.setText(1, text)
        item.setForeground(1, QBrush(QColor(colour)))
        tip = f"{photo.name}\n{photo.path}\n{photo.size[0]}×{photo.size[1]}"
        if photo.seconds:
            tip += f"\n{photo.seconds:.2f} s with {photo.model}"
        if reasons := reasons_text(photo):
            tip += f"\n{reasons}"
        if photo.error:
            tip += f"\n{photo.error}"
        item.setToolTip(0, tip)
        item.setToolTip(1, f"{text}\n{reasons}" if reasons else text)
        self._fit_timer.start()
        if session is not None:
            self._car_summary(photo.car, session)
        self.status_shown.emit(photo.key)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_timer.start()

    def _fit_columns(self) -> None:
        """The status column as wide as its texts, but never so wide that a photo's thumbnail
        and "angle 09" do not fit (a long failure is cut off; its tooltip has it all)."""
        photo = 2 * self.indentation() + THUMB.width() + 32
        photo += self.fontMetrics().horizontalAdvance("angle 00")
        room = max(60, self.viewport().width() - photo)
        self.header().resizeSection(1, min(self.sizeHintForColumn(1) + 8, room))

    def _car_summary(self, car: str, session: Session) -> None:
        top = self.cars.get(car)
        if top is None:
            return
        # the car's rows are its photos: no regrouping of the whole queue per status change
        photos = [session.photos[child.data(0, KEY_ROLE)] for child in children(top)]
        ready = sum(p.has_mask for p in photos)
        failed = sum(p.status == FAILED for p in photos)
        text = f"{ready}/{len(photos)} done" + (f", {failed} failed" if failed else "")
        if doubtful := sum(needs_review(p) for p in photos):
            text += f", ⚑ {doubtful} need{'s' if doubtful == 1 else ''} review"
        if missing := missing_angles([p.path for p in photos]):
            text += f", {len(missing)} angle(s) missing"
            top.setToolTip(1, "Missing angles: " + ", ".join(f"{a:02d}" for a in missing))
        top.setText(1, text)

    def current_key(self) -> str:
        item = self.currentItem()
        return item.data(0, KEY_ROLE) or "" if item else ""

    def selected_keys(self) -> list[str]:
        keys: list[str] = []
        for item in self.selectedItems():
            key = item.data(0, KEY_ROLE)
            if key:
                keys.append(key)
            else:  # a car: all its photos
                keys += [child.data(0, KEY_ROLE) for child in children(item)]
        return list(dict.fromkeys(keys))

    def filter(self, keep, session: Session) -> None:
        """Show only the photos `keep(photo)` is true for (all with None), and their cars. The
        filter stays on: a rebuild applies it to the new rows."""
        self._keep = keep
        items = self.items
        for key, item in list(items.items()):
            if self.items is not items:  # rebuilt meanwhile (hiding the current row moved the
                return  # current photo, and the window redrew the queue): the rebuild filtered
            photo = session.photos.get(key)
            item.setHidden(keep is not None and photo is not None and not keep(photo))
        for top in self.cars.values():
            top.setHidden(all(child.isHidden() for child in children(top)))

    def select(self, key: str) -> None:
        if key in self.items:
            self.setCurrentItem(self.items[key])

    def _current_changed(self, current, _previous) -> None:
        self.photo_selected.emit(current.data(0, KEY_ROLE) or "" if current else "")
