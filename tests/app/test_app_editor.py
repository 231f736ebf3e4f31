"""Preview and touch-up editor: real mouse strokes on a real photo, undo, zoom/pan sync, cutout."""

import math

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.editor import MaskDocument, PreviewPane
from engine.io import read_mask, read_rgb

PHOTO = "carvana/train/00087a6bd4dc_01.jpg"  # 480×320; the car spans x 145..345, y 114..272
MASK = "carvana/train_masks/00087a6bd4dc_01_mask.gif"


@pytest.fixture(scope="module")
def photo(request):
    data = request.path.parents[1] / "data"
    return read_rgb(data / PHOTO), read_mask(data / MASK)


@pytest.fixture
def pane(qtbot, photo):
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.resize(1200, 440)
    pane.show()
    qtbot.waitExposed(pane)
    pane.document.load(*photo)
    pane.zoom_100()
    return pane


def segment_distance(shape, p0, p1):
    """Distance of every pixel centre to the segment p0-p1 (photo coordinates)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]] + 0.5
    d = np.subtract(p1, p0)
    t = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / (d @ d), 0, 1)
    return np.hypot(xx - p0[0] - t * d[0], yy - p0[1] - t * d[1])


def port_pixel(view, x: float, y: float) -> QPoint:
    """The screen pixel of `view`'s viewport that shows photo point (x, y)."""
    q = view.viewportTransform().map(QPointF(x, y))
    return QPoint(math.floor(q.x()), math.floor(q.y()))


def drag(qtbot, view, scene_points, button=Qt.MouseButton.LeftButton):
    """Press at the first photo point, move through the others (far apart), release."""
    port = view.viewport()
    pos = [port_pixel(view, *p) for p in scene_points]
    qtbot.mousePress(port, button, pos=pos[0])
    for p in pos[1:]:
        qtbot.mouseMove(port, p)
    qtbot.mouseRelease(port, button, pos=pos[-1])


def screen_pixel(view, x, y) -> QColor:
    """The colour the user sees at photo pixel (x, y) in `view`."""
    image = view.viewport().grab().toImage()
    return image.pixelColor(port_pixel(view, x + 0.5, y + 0.5))


@pytest.mark.parametrize(
    ("tool", "side", "p0", "p1"),
    [
        ("brush", "cutout_view", (60.5, 40.5), (180.5, 44.5)),  # over the background wall
        ("eraser", "original_view", (250.5, 190.5), (260.5, 262.5)),  # over the car
    ],
)
def test_mouse_stroke_paints_there_and_undo_redo_are_bit_exact(qtbot, pane, tool, side, p0, p1):
    doc = pane.document
    pane.set_tool(tool)
    pane.set_brush_size(12)  # radius 6 photo pixels
    before = doc.mask.copy()
    near = segment_distance(before.shape, p0, p1)
    assert (before[near <= 6] != (tool == "brush")).all()  # the stroke will change all of it

    # three far-apart mouse moves: the dabs between them must still join up
    path = [p0, *(np.add(p0, np.subtract(p1, p0) * k / 3) for k in (1, 2)), p1]
    drag(qtbot, getattr(pane, side), path)

    after = doc.mask.copy()
    assert (after[near <= 4.5] == (tool == "brush")).all()
    far = near >= 7.5
    assert np.array_equal(after[far], before[far])
    assert doc.touched
    assert doc.undo_stack.count() == 1  # press → release is one undo step

    cmd = doc.undo_stack.command(0)
    assert cmd.before.shape == cmd.after.shape
    assert cmd.before.size < before.size / 20  # only the changed box is stored
    doc.undo_stack.undo()
    assert np.array_equal(doc.mask, before)
    assert not doc.touched
    doc.undo_stack.redo()
    assert np.array_equal(doc.mask, after)


def test_pan_tool_drags_the_view_without_painting(qtbot, pane):
    pane.set_zoom(4.0)
    before = pane.document.mask.copy()
    pane.set_tool("pan")
    view = pane.original_view
    h0 = view.horizontalScrollBar().value()
    port = view.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=QPoint(300, 200))
    qtbot.mouseMove(port, QPoint(200, 150))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    assert view.horizontalScrollBar().value() == h0 + 100
    assert pane.cutout_view.horizontalScrollBar().value() == h0 + 100
    assert np.array_equal(pane.document.mask, before)
    assert pane.document.undo_stack.count() == 0

    # with the brush, holding space pans too
    pane.set_tool("brush")
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(port, QPoint(200, 100))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(200, 100))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert pane.cutout_view.verticalScrollBar().value() == view.verticalScrollBar().value() > 0
    assert np.array_equal(pane.document.mask, before)
    drag(qtbot, view, [(100.5, 60.5), (110.5, 60.5)])  # space released: paints again
    assert pane.document.undo_stack.count() == 1


def test_wheel_zoom_keeps_the_point_under_the_pointer_and_both_sides_in_sync(qtbot, pane):
    view, other = pane.original_view, pane.cutout_view
    pane.set_zoom(2.0)  # the photo overflows the view: every zoom step can keep the anchor
    at = port_pixel(view, 300.0, 200.0)
    for _ in range(4):
        wheel = QWheelEvent(
            QPointF(at),
            QPointF(view.viewport().mapToGlobal(at)),
            QPoint(),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(view.viewport(), wheel)
    assert pane.zoom == pytest.approx(2.0 * 1.25**4)
    under = view.to_scene(QPointF(at))
    assert (under.x(), under.y()) == (pytest.approx(300, abs=0.5), pytest.approx(200, abs=0.5))
    assert other.transform() == view.transform()
    for bar in ("horizontalScrollBar", "verticalScrollBar"):
        assert getattr(view, bar)().value() > 0
        assert getattr(other, bar)().value() == getattr(view, bar)().value()

    # middle-button drag on the other side pans both
    h0 = view.horizontalScrollBar().value()
    drag_from, drag_to = QPoint(300, 200), QPoint(240, 200)
    qtbot.mousePress(other.viewport(), Qt.MouseButton.MiddleButton, pos=drag_from)
    qtbot.mouseMove(other.viewport(), drag_to)
    qtbot.mouseRelease(other.viewport(), Qt.MouseButton.MiddleButton, pos=drag_to)
    assert view.horizontalScrollBar().value() == h0 + 60

    pane.zoom_out()
    assert pane.zoom == pytest.approx(2.0 * 1.25**3)
    assert other.transform() == view.transform()
    pane.zoom_fit()
    photo = view.mapFromScene(view.sceneRect()).boundingRect()
    assert view.viewport().rect().contains(photo)
    assert photo.width() > 0.9 * view.viewport().width()


def test_cutout_shows_photo_pixels_on_the_chosen_background(qtbot, pane, photo):
    rgb, mask = photo
    view = pane.cutout_view
    car, wall = (250, 250), (20, 20)
    assert mask[car[1], car[0]] and not mask[wall[1], wall[0]]
    pane.set_background("white")
    assert screen_pixel(view, *car) == QColor(*rgb[car[1], car[0]])
    assert screen_pixel(view, *wall) == QColor("white")
    pane.set_background(QColor(0, 128, 0))
    assert screen_pixel(view, *wall) == QColor(0, 128, 0)
    pane.set_background("checker")
    assert screen_pixel(view, *wall) in (QColor(255, 255, 255), QColor(204, 204, 204))

    # painting redraws the cutout there: the wall pixel now shows the photo
    pane.document.paint_stroke([(20.5, 20.5)], 3, add=True)
    assert screen_pixel(view, *wall) == QColor(*rgb[20, 20])
    image = pane.cutout_image()
    assert image.size().toTuple() == (480, 320)
    assert image.pixelColor(*wall).alpha() == 255
    assert image.pixelColor(100, 100).alpha() == 0


def test_reset_to_model_is_undoable_and_clears_touched(qtbot, pane, photo):
    doc = pane.document
    model = photo[1]
    assert not doc.touched
    with qtbot.waitSignal(doc.changed) as changed:
        doc.paint_stroke([(100.5, 100.5), (120.5, 100.5)], 5, add=True)
    x, y, w, h = changed.args
    assert x <= 95 and x + w >= 106 and y <= 95 and y + h >= 106
    assert doc.touched
    painted = doc.mask.copy()

    with qtbot.waitSignal(doc.changed):
        doc.reset_to_model()
    assert np.array_equal(doc.mask, model)
    assert not doc.touched
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert np.array_equal(doc.mask, painted)
    assert doc.touched
    doc.undo_stack.redo()
    assert np.array_equal(doc.mask, model)


def test_loading_a_photo_clears_history_and_keeps_an_edited_mask(qtbot, pane, photo):
    rgb, model = photo
    doc = pane.document
    doc.paint_stroke([(10.5, 10.5)], 4, add=True)
    edited = doc.mask.copy()
    doc.load(rgb, model, mask=edited)
    assert doc.undo_stack.count() == 0
    assert doc.touched
    assert np.array_equal(doc.mask, edited)
    assert doc.mask is not edited and doc.model_mask is not model  # the document owns copies

    doc.clear()
    assert pane.placeholder.isVisible()
    assert "Select a photo" in pane.placeholder.text()
    doc.load(rgb, model)
    assert not pane.placeholder.isVisible()


def test_each_photo_keeps_its_history_until_its_masks_change(qtbot, pane, photo):
    rgb, model = photo
    doc = pane.document
    doc.load(rgb, model, key="a")
    doc.paint_stroke([(10.5, 10.5)], 4, add=True)
    a_edited = doc.mask.copy()
    doc.load(rgb, model, key="b")  # another photo: its own, empty history
    assert doc.undo_stack.count() == 0 and not doc.undo_group.canUndo()
    doc.paint_stroke([(250.5, 200.5)], 3, add=False)  # inside the car
    b_edited = doc.mask.copy()

    doc.load(rgb, model, mask=a_edited, key="a")  # back as it was left: its stroke undoes
    assert doc.undo_stack.count() == 1 and doc.undo_group.canUndo()
    doc.undo_group.undo()
    assert np.array_equal(doc.mask, model)
    doc.undo_group.redo()
    assert np.array_equal(doc.mask, a_edited)

    doc.load(rgb, model, key="b")  # b's touch-up was discarded meanwhile: history gone
    assert doc.undo_stack.count() == 0
    assert not np.array_equal(b_edited, model)

    doc.load(rgb, model, mask=a_edited, key="a")
    doc.forget("b")
    doc.forget("a")  # the shown photo's history stays while it is shown
    assert doc.undo_stack.count() == 1
    doc.clear()
    doc.forget("a")  # removed from the queue
    doc.load(rgb, model, mask=a_edited, key="a")
    assert doc.undo_stack.count() == 0


def test_one_document_per_photo_keeps_its_own_history(qtbot, pane, photo):
    first = pane.document
    first.paint_stroke([(10.5, 10.5)], 4, add=True)
    second = MaskDocument()
    second.load(*photo)
    pane.set_document(second)
    drag(qtbot, pane.original_view, [(40.5, 40.5), (60.5, 40.5)])
    assert second.undo_stack.count() == 1
    assert first.undo_stack.count() == 1
    assert not first.mask[40, 50] and second.mask[40, 50]


def test_bracket_keys_resize_the_brush(qtbot, pane):
    pane.set_brush_size(40)
    with qtbot.waitSignal(pane.brush_size_changed) as grown:
        qtbot.keyClick(pane.original_view, "]")
    assert grown.args == [50]
    qtbot.keyClick(pane.original_view, "[")
    qtbot.keyClick(pane.original_view, "[")
    assert pane.brush_size == 32
    pane.set_brush_size(2)
    for _ in range(3):
        qtbot.keyClick(pane.original_view, "[")
    assert pane.brush_size == 1
    pane.set_brush_size(10_000)
    assert pane.brush_size == 500


def test_screenshot(qtbot, pane, tmp_path):
    pane.set_overlay(True)
    pane.zoom_fit()
    for path in (tmp_path / "editor.png", "/tmp/editor_screenshot.png"):
        assert pane.grab().save(str(path))
    image = pane.grab().toImage()
    assert image.width() == 1200
    # the right half shows a checkerboard at the top left of the photo (wall is cut away)
    view = pane.cutout_view
    corner = view.mapTo(pane, port_pixel(view, 2.0, 2.0))
    assert image.pixelColor(corner) in (QColor(255, 255, 255), QColor(204, 204, 204))


def test_undo_during_a_drag_keeps_history_consistent(qtbot, pane, photo):
    doc = pane.document
    original = doc.mask.copy()
    doc.paint_stroke([(40.5, 40.5), (80.5, 40.5)], 6, add=True)
    doc.begin_stroke(6, add=True)
    doc.stroke_to(60.5, 30.5)
    doc.stroke_to(60.5, 90.5)  # crosses the first stroke
    doc.undo_stack.undo()  # Ctrl+Z while the mouse is still down
    doc.stroke_to(60.5, 100.5)
    doc.end_stroke()
    assert not doc.mask[40, 45] and doc.mask[95, 60]  # the first stroke is undone, this one kept
    doc.undo_stack.undo()
    assert np.array_equal(doc.mask, original)
