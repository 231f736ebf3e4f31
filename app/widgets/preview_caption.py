"""The line above the preview: which photo and angle it shows, and the zoom in percent."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget


class PreviewCaption(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.photo = QLabel("")
        self.photo.setToolTip("The photo shown, and its angle among the car's photos")
        self.zoom = QLabel("")
        self.zoom.setToolTip("Zoom: 100 % shows every photo pixel (Ctrl+0 fits, Ctrl+1 100 %)")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.photo, 1)
        row.addWidget(self.zoom)

    def show_photo(self, name: str, angle: int | None, position: int, angles: int) -> None:
        """`angle`: the turntable's angle number (None: a single photo); `position`: 1-based
        among the car's `angles` photos in the queue."""
        where = f"  ·  angle {angle:02d} ({position} of {angles})" if angle is not None else ""
        self.photo.setText(f"<b>{name}</b>{where}")

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"Zoom {zoom * 100:.0f} %")
