"""No silent waits, no silent failures (issue 32, part 3): what the window says while nothing
seems to happen, in the real window on real photos and a real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from app.session import DONE, QUEUED, Session
from engine.io import read_mask

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "resources" / "samples"
LISTING = ROOT / "tests" / "data" / "listing"
CARVANA = ROOT / "tests" / "data" / "carvana"


def _queue(qtbot, window, paths, count: int) -> None:
    window.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: len(window.session.photos) == count, timeout=20000)


def test_photos_still_queued_after_a_restart_are_said_so(qtbot, open_window):
    window = open_window()
    _queue(qtbot, window, [SAMPLES], 16)
    window.close()
    again = open_window()
    assert again.rate_label.text() == "16 photos still queued — Start (F5)"
    assert not again.busy  # the operator had not started them: they wait for Start
    tree = again.queue
    tree.clearSelection()
    for angle in (1, 2, 3):
        tree.items[str((SAMPLES / f"1a17a1bd648b_0{angle}.jpg").resolve())].setSelected(True)
    again.acts.remove.trigger()  # nothing segmented: no question
    assert again.rate_label.text() == "13 photos still queued — Start (F5)"  # not a stale 16


def test_a_batch_left_running_on_purpose_goes_on_after_a_restart(
    qtbot, open_window, tiny_library, monkeypatch
):
    window = open_window()
    _queue(qtbot, window, sorted(SAMPLES.glob("*.jpg"))[:4], 4)
    window.acts.start.trigger()
    qtbot.waitUntil(lambda: window.batch.segmented >= 1, timeout=120000)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    window.close()  # "Stop the batch and quit?" Yes
    left = Session.load(window.session.folder).count(QUEUED)
    assert left, "the batch ended before the window closed: nothing to test"

    again = open_window()
    qtbot.waitUntil(lambda: again.busy, timeout=5000)
    qtbot.waitUntil(lambda: not again.busy, timeout=120000)
    assert again.session.count(QUEUED) == 0
    assert again.rate_label.text() == f"Finished: {left} segmented, 0 failed"


class _Opened(QObject):
    """What the desktop was asked to open (Qt's own URL handler hook)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toLocalFile())


def _two_segmented_cars(qtbot, window, tmp_path) -> dict[str, list[str]]:
    """Three angles of one real car and four of another, with their hand masks as cutouts."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    masks = {}
    for photo in sorted(LISTING.glob("1a17a1bd648b_0[1-3].jpg")):
        masks[photo.name] = LISTING / f"{photo.stem}_mask.png"
    for photo in sorted((CARVANA / "val").glob("0ed6904e1004_*.jpg")):
        masks[photo.name] = CARVANA / "val_masks" / f"{photo.stem}_mask.gif"
    for photo in [*LISTING.glob("1a17a1bd648b_0[1-3].jpg"), *(CARVANA / "val").glob("0ed*.jpg")]:
        shutil.copy(photo, shoot)
    _queue(qtbot, window, [shoot], len(masks))
    for photo in window.session.photos.values():
        window.session.write_model_mask(photo, read_mask(masks[photo.name]))
        window.session.set_status(photo, DONE)
    window.refresh_queue()
    return window.session.cars()


def test_open_spin_opens_the_selected_cars_page_and_a_failure_says_why(
    qtbot, open_window, tmp_path
):
    window = open_window()
    cars = _two_segmented_cars(qtbot, window, tmp_path)
    window.queue.select(cars["1a17a1bd648b"][1].key)  # the car exported last
    dialog = window.open_export()
    dialog.listing.enabled.setChecked(True)
    dialog.listing.size_combo.setCurrentText("640x480")
    dialog.listing.spin.setChecked(True)
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=120000)
    assert len(dialog.report.spins) == 2 and dialog.report.spins[0].name.startswith("0ed")

    opened = _Opened()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        dialog.spin_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert opened.urls == [str(out / "1a17a1bd648b_spin.html")]

    # no desktop launcher (here: the offscreen platform opens nothing): the reason and the path
    dialog.open_button.click()
    text = dialog.report_text.toPlainText()
    assert "Cannot open the folder" in text and str(out) in text
    dialog.spin_button.click()
    assert "Cannot open the spin page" in dialog.report_text.toPlainText()
    assert str(out / "1a17a1bd648b_spin.html") in dialog.report_text.toPlainText()


def test_the_first_batch_says_it_prepares_the_model_for_this_pc(
    qtbot, open_window, tiny_library, tmp_path, monkeypatch
):
    """The model is converted for OpenVINO before the first photo (seconds): the window says
    so, with a busy bar and the seconds it has taken, not a silent "0 %"."""
    pytest.importorskip("openvino")
    monkeypatch.setenv("CARMASK_CONVERTED", str(tmp_path / "converted"))  # not converted yet
    window = open_window()
    window.device_combo.setCurrentText("cpu")
    _queue(qtbot, window, sorted(SAMPLES.glob("*.jpg"))[:2], 2)
    seen: list[tuple[str, int]] = []
    window.acts.start.trigger()
    qtbot.waitUntil(
        lambda: (
            seen.append((window.rate_label.text(), window.progress.maximum())) or not window.busy
        ),
        timeout=120000,
    )
    preparing = [(t, m) for t, m in seen if t.startswith("Preparing the model for this PC (once)…")]
    assert preparing, f"never said: {sorted({t for t, _ in seen})}"
    assert all(m == 0 for _, m in preparing)  # a busy bar, not "0 %"
    assert preparing[-1][0].endswith(" s")
    assert window.rate_label.text() == "Finished: 2 segmented, 0 failed"
    assert "OpenVINO" in window.device_label.text()
