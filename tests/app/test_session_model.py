"""The window is driven by its model: a change made through the `SessionModel` is signalled and
the queue follows it at once, and the menus' actions are a typed record whose actions call the
real handlers (no names looked up on the window). The real window on a real session, real
photos; offscreen with pytest-qt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QAction

from app.actions import Actions, ActionSpec, action_table
from app.session import FAILED, QUEUED
from app.window import MainWindow

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


@pytest.fixture
def queued(qtbot, open_window, tmp_path) -> MainWindow:
    """The window with three real photos of one car queued (not segmented)."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for f in sorted((CARVANA / "val").glob("0ed6904e1004_*.jpg"))[:3]:
        shutil.copy(f, folder / f.name)
    window = open_window()
    window.add_paths([str(folder)])
    qtbot.waitUntil(lambda: len(window.queue.items) == 3, timeout=30000)
    return window


def test_a_change_made_through_the_session_model_shows_in_the_queue_at_once(qtbot, queued):
    window, model = queued, queued.model
    key = next(iter(window.session.photos))
    photo = window.session.photos[key]

    with qtbot.waitSignal(model.photo_changed, timeout=1000) as changed:
        model.set_status(photo, FAILED, "unreadable: the card was pulled out")
    assert changed.args == [key]
    assert window.queue.items[key].text(1) == "failed: unreadable: the card was pulled out"
    car = window.queue.cars[photo.car]
    assert "1 failed" in car.text(1)

    with qtbot.waitSignals([model.photos_removed, model.queue_changed], order="strict"):
        model.remove([key])
    assert key not in window.queue.items and len(window.queue.items) == 2

    with qtbot.waitSignal(model.queue_changed, timeout=1000):
        back = model.undo_remove()
    assert [p.key for p in back] == [key]
    assert window.queue.items[key].text(1).startswith("failed")
    model.set_status(photo, QUEUED)
    assert window.queue.items[key].text(1) == "queued"


def test_the_menus_are_a_typed_record_whose_actions_do_what_the_menu_did(qtbot, queued):
    window = queued
    acts = window.acts
    assert isinstance(acts, Actions)
    table = action_table(window, window)
    assert all(callable(spec.slot) for spec in table if isinstance(spec, ActionSpec))
    batch_menu = acts.menus["&Batch"].actions()
    assert acts.remove in batch_menu and acts.start in batch_menu
    assert all(isinstance(a, QAction) for a in (acts.undo, acts.redo, acts.stop_watching))

    # Remove selected from queue: the photo leaves the queue, and Undo remove brings it back
    key = list(window.queue.items)[1]
    window.queue.clearSelection()
    window.queue.items[key].setSelected(True)
    assert acts.remove.isEnabled()
    acts.remove.trigger()
    assert key not in window.session.photos and key not in window.queue.items
    assert window.removal.undo_action.isEnabled()
    window.removal.undo_action.trigger()
    assert key in window.session.photos and key in window.queue.items

    # a checkable action is handed its state: the review filter is on, then off
    acts.review_filter.trigger()
    assert window.review.only_flagged
    assert all(item.isHidden() for item in window.queue.items.values())  # none needs review
    acts.review_filter.trigger()
    assert not window.review.only_flagged
    assert not any(item.isHidden() for item in window.queue.items.values())

    # Pause with no batch running stays unchecked
    acts.pause.setEnabled(True)
    acts.pause.trigger()
    assert not acts.pause.isChecked()
