"""No silent waits, no silent failures (issue 32, part 3): what the window says while nothing
seems to happen, in the real window on real photos and a real model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox

from app.session import QUEUED, Session

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "resources" / "samples"


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


def test_a_batch_left_running_on_purpose_goes_on_after_a_restart(
    qtbot, open_window, tiny_library, monkeypatch
):
    window = open_window()
    _queue(qtbot, window, sorted(SAMPLES.glob("*.jpg"))[:4], 4)
    window.start_action.trigger()
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
