"""The queue an operator reads (issue 32, part 2): cars and angles by name, phone photos as single
photos without an angle strip, in the real window on real photos."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from app.session import FAILED
from app.widgets.queue_view import KEY_ROLE

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "resources" / "samples"
WEB_CARS = ROOT / "tests" / "data" / "web-cars" / "images"


@pytest.fixture
def phone_photos(tmp_path) -> Path:
    """Four real car photos named as a phone or a dealer's camera names them."""
    folder = tmp_path / "dealer"
    folder.mkdir()
    for n, photo in enumerate(sorted(WEB_CARS.glob("*.jpg")), 1234):
        shutil.copy(photo, folder / f"IMG_{n}.jpg")
    return folder


def _screenshot(window, name: str) -> None:
    if shots := os.environ.get("CARMASK_SCREENSHOTS"):  # to look at it
        window.resize(1280, 720)
        window.grab().save(str(Path(shots) / name))


def _queue(qtbot, window, paths, count: int) -> None:
    window.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: len(window.session.photos) == count, timeout=20000)


def test_the_queue_names_the_car_and_each_photo_by_its_angle(qtbot, open_window):
    window = open_window()
    window.resize(1280, 720)
    _queue(qtbot, window, [SAMPLES], 16)
    tree = window.queue
    assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())] == [
        "car 1a17a1bd648b"
    ]
    car = tree.cars["1a17a1bd648b"]
    rows = [car.child(i).text(0) for i in range(car.childCount())]
    assert rows == [f"angle {a:02d}" for a in range(1, 17)]
    # the angle and the status are readable whatever the width the status text would take
    row = car.child(8)
    photo = window.session.photos[row.data(0, KEY_ROLE)]
    reason = "unreadable photo: image file is truncated (45 bytes not processed) " * 2
    window.model.set_status(photo, FAILED, reason)  # the queue follows the model
    qtbot.wait(20)
    needed = tree.fontMetrics().horizontalAdvance(row.text(0)) + tree.iconSize().width()
    assert tree.visualRect(tree.indexFromItem(row, 0)).width() >= needed
    header = tree.header()
    assert header.sectionPosition(1) + header.sectionSize(1) <= tree.viewport().width()
    assert reason in row.toolTip(1)  # cut off in the row: all of it in the tooltip
    assert "1a17a1bd648b_09.jpg" in row.toolTip(0)
    tree.select(row.data(0, KEY_ROLE))
    qtbot.waitUntil(lambda: window.strip.count() == 16)
    qtbot.waitUntil(lambda: len(tree.thumbnails) == 16, timeout=20000)
    assert window.strip.isVisible() and window.strip.item(8).text() == "angle 09"
    _screenshot(window, "queue-carvana.png")


def test_phone_photos_are_single_photos_without_an_angle_strip(qtbot, open_window, phone_photos):
    window = open_window()
    _queue(qtbot, window, [phone_photos], 4)
    tree = window.queue
    assert tree.cars == {}  # not one "car" named after the folder
    names = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert names == ["IMG_1234.jpg", "IMG_1235.jpg", "IMG_1236.jpg", "IMG_1237.jpg"]
    assert all(tree.topLevelItem(i).childCount() == 0 for i in range(4))
    key = str((phone_photos / "IMG_1235.jpg").resolve())
    tree.select(key)
    qtbot.waitUntil(lambda: window.preview.current_key == key, timeout=10000)
    assert not window.strip.isVisible()
    qtbot.waitUntil(lambda: len(tree.thumbnails) == 4, timeout=20000)
    _screenshot(window, "queue-phone.png")

    # a turntable car queued beside them has its strip again
    _queue(qtbot, window, [SAMPLES / "1a17a1bd648b_03.jpg", SAMPLES / "1a17a1bd648b_04.jpg"], 6)
    tree.select(str((SAMPLES / "1a17a1bd648b_04.jpg").resolve()))
    qtbot.waitUntil(lambda: window.strip.count() == 2, timeout=10000)
    assert window.strip.isVisible()


def test_finished_counts_the_photos_of_this_batch_not_the_whole_queue(
    qtbot, open_window, tiny_library
):
    window = open_window()
    _queue(qtbot, window, sorted(SAMPLES.glob("*.jpg"))[:3], 3)
    window.acts.start.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    assert window.rate_label.text() == "Finished: 3 segmented, 0 failed"

    _queue(qtbot, window, sorted(SAMPLES.glob("*.jpg"))[3:5], 5)
    window.acts.start.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    assert window.rate_label.text() == "Finished: 2 segmented, 0 failed"


def test_batch_actions_that_need_a_selection_are_disabled_without_one(qtbot, open_window):
    window = open_window()
    needs_selection = (window.acts.rerun, window.acts.remove)
    assert not any(a.isEnabled() for a in needs_selection)  # an empty queue
    _queue(qtbot, window, [SAMPLES], 16)
    window.queue.clearSelection()
    assert not any(a.isEnabled() for a in needs_selection)
    window.queue.select(str((SAMPLES / "1a17a1bd648b_05.jpg").resolve()))
    assert all(a.isEnabled() for a in needs_selection)
    window.queue.clearSelection()
    assert not any(a.isEnabled() for a in needs_selection)
