"""The model chooser's combo box: every name in full in the list that opens, a short name cut
after a whole word (never mid-word) in the closed box of the toolbar."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter

SHORT = Qt.ItemDataRole.UserRole + 1  # an item's short name, shown in the closed combo box
_WORD_END = re.compile(r"(?<=[\s_-])|(?=\s)|(?=\()")


def elide_words(text: str, metrics: QFontMetrics, width: int) -> str:
    """`text` as it fits in `width` pixels: whole, else cut after a whole word, with "…"."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    ends = sorted({m.start() for m in _WORD_END.finditer(text) if m.start() > 0}, reverse=True)
    for end in ends:
        shown = text[:end].rstrip(" -_(") + "…"
        if metrics.horizontalAdvance(shown) <= width:
            return shown
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


class ModelCombo(QComboBox):
    """A combo box of models: the list that opens shows every name in full; closed, it shows
    the chosen item's short name, cut after a whole word when it does not fit."""

    def shown_text(self) -> str:
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        short = self.currentData(SHORT) or self.currentText()
        return elide_words(short, self.fontMetrics(), field.width() - 4)

    def paintEvent(self, _event) -> None:
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        opt.currentText = self.shown_text()
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def showPopup(self) -> None:
        view, metrics = self.view(), self.view().fontMetrics()
        widest = max(
            (metrics.horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0
        )
        view.setTextElideMode(Qt.TextElideMode.ElideNone)
        view.setMinimumWidth(
            widest + 4 * self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        )
        super().showPopup()
