"""The preview's canvas pieces: a view of a photo-pixel scene with a backdrop under the photo
(checkerboard or colour), and an item that paints a numpy ARGB32 buffer without copying it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QWidget

VIEW_BACKGROUND = QColor(40, 40, 44)
CHECKER_SQUARE = 10  # screen pixels


def bgra(rgba) -> np.ndarray:
    """One premultiplied ARGB32 pixel as bytes in memory (B, G, R, A on little-endian hosts)."""
    r, g, b, a = rgba
    return np.array([b * a // 255, g * a // 255, r * a // 255, a], np.uint8)


def checker_brush() -> QBrush:
    n = CHECKER_SQUARE
    tile = QPixmap(2 * n, 2 * n)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, n, n, QColor(255, 255, 255))
    painter.fillRect(n, n, n, n, QColor(255, 255, 255))
    painter.end()
    return QBrush(tile)


class ImageItem(QGraphicsItem):
    """Paints a QImage wrapping an H×W×4 premultiplied ARGB32 numpy buffer, kept alive here."""

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.buffer = np.zeros((0, 0, 4), np.uint8)
        self.image = QImage()
        self.smooth = False

    def set_size(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        self.buffer = np.zeros((height, width, 4), np.uint8)
        fmt = QImage.Format.Format_ARGB32_Premultiplied
        self.image = QImage(self.buffer.data, width, height, 4 * width, fmt)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        painter.drawImage(option.exposedRect, self.image, option.exposedRect)


class PhotoView(QGraphicsView):
    """A view of one scene; `backdrop` ("checker" or a QColor) is drawn under the photo."""

    def __init__(self, parent: QWidget):
        super().__init__(QGraphicsScene(parent), parent)
        self.backdrop: str | QColor | None = None
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(VIEW_BACKGROUND)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.viewport().setMouseTracking(True)
        self._checker = checker_brush()

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        super().drawBackground(painter, rect)
        if self.backdrop is None:
            return
        if isinstance(self.backdrop, QColor):
            painter.fillRect(self.sceneRect(), self.backdrop)
            return
        brush = QBrush(self._checker)  # squares of a fixed screen size at any zoom
        brush.setTransform(painter.worldTransform().inverted()[0])
        painter.fillRect(self.sceneRect(), brush)

    def to_scene(self, pos: QPointF) -> QPointF:
        """The photo point at the centre of the screen pixel at `pos` (not rounded)."""
        return self.viewportTransform().inverted()[0].map(QPointF(pos) + QPointF(0.5, 0.5))
