"""Side-by-side preview (original | cutout) with brush touch-up; zoom and pan stay in sync.

Both scenes are in photo pixel coordinates. The cutout and the mask overlay are QImages that wrap
numpy buffers; on `MaskDocument.changed(x, y, w, h)` only that box of the buffers is recomputed
and only that part of the items is repainted.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPen, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QHBoxLayout,
    QLabel,
    QStackedLayout,
    QWidget,
)

from app.editor.canvas import ImageItem, PhotoView, bgra
from app.editor.document import MaskDocument
from app.editor.tools import TOOLS, Tool

BRUSH_MIN, BRUSH_MAX = 1, 500  # brush diameter in photo pixels
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.02, 32.0, 1.25
OVERLAY_RGBA = (0, 170, 255, 96)  # the car tint on the original
PLACEHOLDER = "Select a photo in the queue"


class PreviewPane(QWidget):
    """Original | cutout of `document`, with brush/eraser touch-up on either side.

    Wheel zooms around the pointer; middle-drag, space+drag or the "pan" tool pans; `[` and `]`
    shrink and grow the brush."""

    brush_size_changed = Signal(int)
    zoom_changed = Signal(float)  # screen pixels per photo pixel

    def __init__(self, document: MaskDocument | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.document = document if document is not None else MaskDocument(self)
        self._connected = False  # to the document's signals
        self._tool = Tool.BRUSH
        self._brush_size = 40
        self._zoom = 1.0
        self._fit = True  # zoom follows the pane size until the user zooms
        self._space = False
        self._pan_from: QPointF | None = None
        self._painting = False
        self._shown_size: tuple[int, int] | None = None  # (h, w) of the photo shown

        self.original_view, self.cutout_view = PhotoView(self), PhotoView(self)
        self.views = (self.original_view, self.cutout_view)
        self.cutout_view.backdrop = "checker"
        self._photo_item = QGraphicsPixmapItem()
        self._overlay_item = ImageItem()
        self._cutout_item = ImageItem()
        self.original_view.scene().addItem(self._photo_item)
        self.original_view.scene().addItem(self._overlay_item)
        self.cutout_view.scene().addItem(self._cutout_item)
        self._cursors = [self._add_brush_cursor(v.scene()) for v in self.views]
        for view in self.views:
            view.viewport().installEventFilter(self)
        for a, b in (self.views, self.views[::-1]):
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)

        self.placeholder = QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: gray; font-size: 16px;")
        sides = QWidget()
        row = QHBoxLayout(sides)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.original_view, 1)
        row.addWidget(self.cutout_view, 1)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.placeholder)
        self._stack.addWidget(sides)
        self._update_cursor_shape()
        self.set_document(self.document)

    # ---- document ------------------------------------------------------------------------------
    def set_document(self, document: MaskDocument) -> None:
        """Show `document` (e.g. one per photo in the queue, each with its own undo history)."""
        if self._connected:
            self.document.end_stroke()
            self.document.changed.disconnect(self._refresh)
            self.document.loaded.disconnect(self._rebuild)
        self._painting = False
        self.document = document
        document.changed.connect(self._refresh)
        document.loaded.connect(self._rebuild)
        self._connected = True
        self._rebuild()

    def _rebuild(self) -> None:
        doc = self.document
        if doc.rgb is None or doc.mask is None:  # empty
            self._stack.setCurrentIndex(0)
            self._photo_item.setPixmap(QPixmap())
            for item in (self._overlay_item, self._cutout_item):
                item.set_size(0, 0)
            return
        h, w = doc.mask.shape
        # another angle of the same size keeps the zoom and position (compare one detail across
        # angles); fitted photos stay fitted
        keep = not self._fit and self._shown_size == (h, w)
        bars = [(v.horizontalScrollBar(), v.verticalScrollBar()) for v in self.views]
        scroll = [(x.value(), y.value()) for x, y in bars]
        self._shown_size = (h, w)
        rgb = QImage(doc.rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self._photo_item.setPixmap(QPixmap.fromImage(rgb))  # a copy: doc.rgb may go away
        self._overlay_item.set_size(w, h)
        self._cutout_item.set_size(w, h)
        for view in self.views:
            view.setSceneRect(0, 0, w, h)
        self._refresh(0, 0, w, h)
        self._stack.setCurrentIndex(1)
        if not keep:
            self.zoom_fit()
            return
        for (x_bar, y_bar), (x, y) in zip(bars, scroll, strict=True):
            x_bar.setValue(x)
            y_bar.setValue(y)

    def _refresh(self, x: int, y: int, w: int, h: int) -> None:
        """Recompute the cutout and overlay pixels of one box and repaint just that box."""
        mask, rgb = self.document.mask, self.document.rgb
        if mask is None or rgb is None:
            return
        box = np.s_[y : y + h, x : x + w]
        car = mask[box][..., None]
        cutout = self._cutout_item.buffer[box]
        cutout[..., :3] = np.where(car, rgb[box][..., ::-1], 0)
        cutout[..., 3] = car[..., 0] * np.uint8(255)
        self._overlay_item.buffer[box] = np.where(car, bgra(OVERLAY_RGBA), 0)
        rect = QRectF(x, y, w, h)
        self._cutout_item.update(rect)
        self._overlay_item.update(rect)

    def cutout_image(self) -> QImage:
        """The cutout at photo resolution with a transparent background (a copy)."""
        return self._cutout_item.image.copy()

    # ---- appearance ----------------------------------------------------------------------------
    def set_background(self, background: str | QColor) -> None:
        """What shows through the cutout: "checker" (transparency), "white" or a QColor."""
        if isinstance(background, str) and background != "checker":
            background = QColor(background)
        self.cutout_view.backdrop = background
        self.cutout_view.resetCachedContent()
        self.cutout_view.viewport().update()

    @property
    def background(self) -> str | QColor:
        return self.cutout_view.backdrop or "checker"  # the cutout side always has one

    def set_overlay(self, visible: bool) -> None:
        """Tint the car on the original side."""
        self._overlay_item.setVisible(visible)

    # ---- tools ---------------------------------------------------------------------------------
    @property
    def tool(self) -> Tool:
        return self._tool

    def set_tool(self, tool: Tool | str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {[str(t) for t in TOOLS]}, got {tool!r}")
        if tool != self._tool:
            self._tool = Tool(tool)
            self._update_cursor_shape()

    @property
    def brush_size(self) -> int:
        """Brush diameter in photo pixels."""
        return self._brush_size

    def set_brush_size(self, size: float) -> None:
        """Brush diameter in photo pixels, rounded and clamped to 1..500."""
        size = min(max(round(size), BRUSH_MIN), BRUSH_MAX)
        if size != self._brush_size:
            self._brush_size = size
            self._update_cursor_shape()
            self.brush_size_changed.emit(size)

    def _add_brush_cursor(self, scene: QGraphicsScene) -> QGraphicsEllipseItem:
        """A circle of the brush size: a white ring inside a dark one, visible on any photo."""
        outer = QGraphicsEllipseItem()
        inner = QGraphicsEllipseItem(outer)
        for item, color, width in ((outer, QColor(0, 0, 0, 170), 3), (inner, QColor("white"), 1)):
            pen = QPen(color, width)
            pen.setCosmetic(True)  # the same width in screen pixels at any zoom
            item.setPen(pen)
        outer.setZValue(10)
        outer.hide()
        scene.addItem(outer)
        return outer

    def _update_cursor_shape(self) -> None:
        r = self._brush_size / 2
        for ring in self._cursors:
            ring.setRect(-r, -r, 2 * r, 2 * r)
            for inner in ring.childItems():
                if isinstance(inner, QGraphicsEllipseItem):
                    inner.setRect(-r, -r, 2 * r, 2 * r)
        panning = self._tool == Tool.PAN or self._space
        shape = Qt.CursorShape.OpenHandCursor if panning else Qt.CursorShape.CrossCursor
        for view in self.views:
            view.viewport().setCursor(shape)
        if panning:
            self._show_brush_cursor(None)

    def _show_brush_cursor(self, pos: QPointF | None) -> None:
        for ring in self._cursors:
            ring.setVisible(pos is not None)
            if pos is not None:
                ring.setPos(pos)

    # ---- zoom ----------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Screen pixels per photo pixel (1.0 = 100 %)."""
        return self._zoom

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_100(self) -> None:
        self.set_zoom(1.0)

    def zoom_fit(self) -> None:
        """Show the whole photo; it keeps fitting as the pane resizes until the next zoom."""
        if self.document.is_empty or self.document.mask is None:
            return
        h, w = self.document.mask.shape
        port = self.original_view.maximumViewportSize()
        self.set_zoom(0.98 * min(port.width() / w, port.height() / h))
        self._fit = True

    def set_zoom(self, zoom: float, view: PhotoView | None = None, at: QPointF | None = None):
        """Zoom both sides, keeping the photo point under `at` (viewport position in `view`;
        default: the centre) in place."""
        zoom = min(max(zoom, ZOOM_MIN), ZOOM_MAX)
        view = view or self.original_view
        at = QPointF(view.viewport().rect().center()) if at is None else QPointF(at)
        fixed = view.viewportTransform().inverted()[0].map(at)
        for v in self.views:
            v.setTransform(QTransform.fromScale(zoom, zoom))
        drift = view.viewportTransform().map(fixed) - at
        x_bar, y_bar = view.horizontalScrollBar(), view.verticalScrollBar()
        x_bar.setValue(x_bar.value() + round(drift.x()))
        y_bar.setValue(y_bar.value() + round(drift.y()))
        self._sync_scroll(view)
        self._fit = False
        self._photo_item.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation
            if zoom < 1
            else Qt.TransformationMode.FastTransformation
        )
        for item in (self._overlay_item, self._cutout_item):
            item.smooth = zoom < 1
        self._zoom = zoom
        self.zoom_changed.emit(zoom)

    def _sync_scroll(self, source: PhotoView) -> None:
        for other in self.views:
            if other is not source:
                other.horizontalScrollBar().setValue(source.horizontalScrollBar().value())
                other.verticalScrollBar().setValue(source.verticalScrollBar().value())

    def _pan(self, view: PhotoView, delta: QPointF) -> None:
        h, v = view.horizontalScrollBar(), view.verticalScrollBar()
        h.setValue(h.value() - round(delta.x()))
        v.setValue(v.value() - round(delta.y()))

    # ---- input ---------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        view = next((v for v in self.views if v.viewport() is obj), None)
        if view is None or self.document.is_empty:
            return False
        kind = event.type()
        if kind == QEvent.Type.Resize and self._fit:
            self.zoom_fit()
        elif kind == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            steps = event.angleDelta().y() / 120
            self.set_zoom(self._zoom * ZOOM_STEP**steps, view, event.position())
            return True
        elif kind == QEvent.Type.MouseButtonPress:
            return self._press(view, event)
        elif kind == QEvent.Type.MouseMove:
            return self._move(view, event)
        elif kind == QEvent.Type.MouseButtonRelease:
            return self._release(event)
        elif kind == QEvent.Type.Leave:
            self._show_brush_cursor(None)
        return False

    def _press(self, view: PhotoView, event) -> bool:
        view.setFocus()
        button = event.button()
        left = button == Qt.MouseButton.LeftButton
        panning = self._tool == Tool.PAN or self._space
        if button == Qt.MouseButton.MiddleButton or (left and panning):
            self._pan_from = event.position()
            view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        if left and not self._painting:
            self._painting = True
            self.document.begin_stroke(self._brush_size / 2, add=self._tool == Tool.BRUSH)
            p = view.to_scene(event.position())
            self.document.stroke_to(p.x(), p.y())
            return True
        return False

    def _move(self, view: PhotoView, event) -> bool:
        if self._pan_from is not None:
            self._pan(view, event.position() - self._pan_from)
            self._pan_from = event.position()
            return True
        p = view.to_scene(event.position())
        if self._tool != "pan" and not self._space:
            self._show_brush_cursor(p)
        if self._painting:
            self.document.stroke_to(p.x(), p.y())
            return True
        return False

    def _release(self, event) -> bool:
        if self._pan_from is not None and event.buttons() == Qt.MouseButton.NoButton:
            self._pan_from = None
            self._update_cursor_shape()
            return True
        if self._painting and event.button() == Qt.MouseButton.LeftButton:
            self._painting = False
            self.document.end_stroke()
            return True
        return False

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(min(self._brush_size - 1, self._brush_size * 0.8))
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(max(self._brush_size + 1, self._brush_size * 1.25))
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._update_cursor_shape()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor_shape()
        else:
            super().keyReleaseEvent(event)
