"""A button that shows a colour and opens the colour dialog when clicked."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QPushButton, QWidget


class ColourButton(QPushButton):
    """Shows its colour (name as text, readable on it); `changed` fires on a new colour."""

    changed = Signal(QColor)

    def __init__(self, colour: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._colour = QColor(colour)
        self.clicked.connect(self._choose)
        self._show()

    def colour(self) -> QColor:
        return QColor(self._colour)

    def set_colour(self, colour: QColor | str) -> None:
        self._colour = QColor(colour)
        self._show()
        self.changed.emit(self.colour())

    def _choose(self) -> None:
        colour = QColorDialog.getColor(self._colour, self, self._title)
        if colour.isValid():
            self.set_colour(colour)

    def _show(self) -> None:
        name = self._colour.name()
        self.setText(name)
        ink = "black" if self._colour.lightness() > 128 else "white"
        self.setStyleSheet(f"background: {name}; color: {ink}")
