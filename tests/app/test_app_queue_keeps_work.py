"""Work in the queue is not lost by a slip: Remove from queue asks first when photos hold
finished cutouts or touch-ups and can be undone; cancelling "Run selected again" leaves the
photos not run yet with their cutouts, so Export still counts them. The real window, a real
(tiny) model, real photos; offscreen with pytest-qt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication, QMessageBox

from app.session import DONE, QUEUED, TOUCHED, Session
from app.window import MainWindow

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


@pytest.fixture
def shoot(tmp_path, tiny_library) -> Path:
    """Four real photos of one car, and a model library with a real trained model."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for f in sorted((CARVANA / "val").glob("0ed6904e1004_*.jpg")):
        shutil.copy(f, folder / f.name)
    return folder


def _segmented(qtbot, window: MainWindow, shoot: Path) -> list[str]:
    """The shoot queued and segmented; its keys in queue order."""
    window.add_paths([str(shoot)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 4, timeout=10000)
    window.acts.start.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    assert window.session.count(DONE) == 4
    return list(window.session.photos)


def _touch_up(window: MainWindow, key: str) -> np.ndarray:
    photo = window.session.photos[key]
    edit = window.session.mask(photo).copy()
    edit[:40, :60] = ~edit[:40, :60]  # a painted corner
    window.model.save_touchup(photo, edit)  # the queue follows the model
    assert photo.status == TOUCHED
    return edit


def _select(window: MainWindow, keys: list[str]) -> None:
    window.queue.clearSelection()
    for key in keys:
        window.queue.items[key].setSelected(True)


def _press_delete(qtbot, window: MainWindow) -> None:
    """Del, as a person presses it in the queue (the window's shortcut: the window is active)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window.queue, Qt.Key.Key_Delete)


def _answer_when_asked(button: str, seen: list, shot: Path | None = None) -> None:
    """Once the question box is up (modal, in its own event loop), note its text, save a
    screenshot, and click `button`."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(f"{box.text()}\n{box.informativeText()}")
        if shot is not None:  # the box over its window, as a person sees it
            image = box.parentWidget().window().grab()
            painter = QPainter(image)
            box_image = box.grab()
            painter.drawPixmap(image.rect().center() - box_image.rect().center(), box_image)
            painter.end()
            image.save(str(shot))
        clicked = next(b for b in box.buttons() if b.text().replace("&", "") == button)
        clicked.click()

    QTimer.singleShot(0, answer)


def _export_summary(window: MainWindow) -> str:
    dialog = window.open_export()
    text = dialog.summary.text()
    dialog.close()
    return text


def test_removing_photos_with_cutouts_asks_first_and_undo_brings_them_back(
    qtbot, open_window, shoot, tmp_path
):
    window = open_window()
    window.resize(1280, 720)
    keys = _segmented(qtbot, window, shoot)
    touched = _touch_up(window, keys[1])
    session = window.session
    before = {k: (p.status, p.confidence, p.model) for k, p in session.photos.items()}
    masks = {k: session.masks(session.photos[k]) for k in keys}
    files = sorted(p.name for p in (session.folder / "masks").iterdir())

    # Del on two photos (one touched up): asked first; Cancel keeps everything
    _select(window, keys[:2])
    seen: list[str] = []
    _answer_when_asked("Cancel", seen, tmp_path / "remove-question.png")
    _press_delete(qtbot, window)
    assert seen == [
        "Remove 2 photos from the queue?\n"
        "2 of them have a finished cutout, 1 with touch-ups. Edit → Undo remove brings them back."
    ]
    assert list(session.photos) == keys and not session.removals
    assert sorted(p.name for p in (session.folder / "masks").iterdir()) == files
    if shots := os.environ.get("CARMASK_SCREENSHOTS"):  # to look at it
        shutil.copy(tmp_path / "remove-question.png", Path(shots) / "remove-question.png")

    # Remove: gone from the queue, from Export and from session.json
    _answer_when_asked("Remove", seen)
    _press_delete(qtbot, window)
    assert len(seen) == 2
    assert list(session.photos) == keys[2:] and set(window.queue.items) == set(keys[2:])
    assert _export_summary(window).startswith("2 of 2 photo(s) are ready")
    assert list(Session.load(session.folder).photos) == keys[2:]
    assert window.removal.undo_button.isVisible() and window.removal.undo_action.isEnabled()

    # Edit → Undo remove: back in their places with their masks, touch-up and state
    edit_menu = window.acts.menus["&Edit"]
    assert window.removal.undo_action in edit_menu.actions()
    window.removal.undo_action.trigger()
    assert list(session.photos) == keys and set(window.queue.items) == set(keys)
    assert {k: (p.status, p.confidence, p.model) for k, p in session.photos.items()} == before
    for key in keys:
        model, shown = session.masks(session.photos[key])
        assert np.array_equal(model, masks[key][0]) and np.array_equal(shown, masks[key][1])
    assert np.array_equal(session.mask(session.photos[keys[1]]), touched)
    assert window.queue.items[keys[1]].text(1) == "touched up"
    assert _export_summary(window).startswith("4 of 4 photo(s) are ready")
    assert not window.removal.undo_action.isEnabled() and not window.removal.undo_button.isVisible()

    # and so it stays after closing and reopening
    window.close()
    again = open_window()
    assert {k: p.status for k, p in again.session.photos.items()} == {
        k: s for k, (s, _, _) in before.items()
    }
    assert np.array_equal(again.session.mask(again.session.photos[keys[1]]), touched)


def test_removing_photos_not_yet_segmented_asks_nothing_and_can_be_undone(
    qtbot, open_window, shoot, monkeypatch
):
    window = open_window()
    window.add_paths([str(shoot)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 4, timeout=10000)
    keys = list(window.session.photos)

    def asked(*_args, **_kwargs):
        raise AssertionError("nothing to lose: no question")

    monkeypatch.setattr(QMessageBox, "exec", asked)
    _select(window, keys[1:3])
    window.acts.remove.trigger()
    assert list(window.session.photos) == [keys[0], keys[3]]
    window.removal.undo_button.click()
    assert list(window.session.photos) == keys
    assert all(p.status == QUEUED for p in window.session.photos.values())


def test_cancelling_run_again_keeps_the_cutouts_of_photos_not_yet_run(
    qtbot, open_window, shoot, monkeypatch
):
    window = open_window()
    keys = _segmented(qtbot, window, shoot)
    session = window.session
    _touch_up(window, keys[0])
    touched = _touch_up(window, keys[3])
    before = {k: (p.status, p.confidence, p.reasons, p.model) for k, p in session.photos.items()}
    model_masks = {k: session.model_mask(session.photos[k]) for k in keys}
    shown = {k: window.queue.items[k].text(1) for k in keys}

    # run all four again, the touch-ups to be replaced by the new masks; Cancel during the first
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    _select(window, keys)
    window.acts.rerun.trigger()
    assert window.busy
    rerun: list[str] = []
    window.worker.photo_started.connect(lambda _key: window.acts.cancel.trigger())
    window.worker.photo_result.connect(lambda r: r.error or rerun.append(r.job.key))  # a done
    # a crash now loses no cutout either: session.json still has them done
    saved = Session.load(session.folder).photos
    assert {k: saved[k].status for k in keys} == {k: s for k, (s, *_) in before.items()}
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)

    assert len(rerun) < 4, "cancelled too late to test anything"
    for key in keys:
        photo = session.photos[key]
        if key in rerun:  # segmented before the cancel: the new result
            assert photo.status == DONE
            continue
        assert (photo.status, photo.confidence, photo.reasons, photo.model) == before[key]
        assert np.array_equal(session.model_mask(photo), model_masks[key])
        assert window.queue.items[key].text(1) == shown[key]
    assert keys[0] in rerun and keys[3] not in rerun
    assert not session.mask_file(session.photos[keys[0]], "edit").exists()  # as chosen
    assert np.array_equal(session.mask(session.photos[keys[3]]), touched)  # kept: not run
    assert _export_summary(window).startswith("4 of 4 photo(s) are ready")
    saved = Session.load(session.folder).photos
    assert {k: p.status for k, p in saved.items()} == {k: session.photos[k].status for k in keys}
