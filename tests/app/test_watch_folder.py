"""The window's Watch folder: photos copied slowly into a watched folder are queued once each is
complete and segmented by the batch, each once; the folder is watched again after a restart."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("watchdog")

from factories import copy_in_chunks

from app.session import DONE, FAILED, QUEUED

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


def _copy_slowly(photos: list[Path], inbox: Path) -> threading.Thread:
    """Copy the photos in chunks on a thread, as a card reader would, the window running."""

    def copy() -> None:
        for p in photos:
            copy_in_chunks(p, inbox / p.name, chunks=5, pause=0.15)

    thread = threading.Thread(target=copy)
    thread.start()
    return thread


def test_watched_photos_are_queued_when_complete_and_segmented(
    qtbot, open_window, tmp_path, tiny_library
):
    photos = sorted((CARVANA / "val").glob("*.jpg"))[:3]
    inbox = tmp_path / "camera"
    inbox.mkdir()
    window = open_window()
    feed = window.watch_feed
    assert not window.acts.stop_watching.isEnabled()
    feed.settle_s = 0.5
    feed.start(inbox)
    qtbot.waitUntil(lambda: feed.watching, timeout=10000)  # started on a worker
    assert window.acts.stop_watching.isEnabled() and feed.label.isVisible()
    assert window.settings.watch_folder == str(inbox)

    copier = _copy_slowly(photos[:2], inbox)
    qtbot.waitUntil(lambda: not copier.is_alive(), timeout=20000)
    qtbot.waitUntil(lambda: len(window.session.photos) == 2, timeout=20000)
    qtbot.waitUntil(
        lambda: all(p.status == DONE for p in window.session.photos.values()) and not window.busy,
        timeout=60000,
    )  # the batch started by itself
    assert sorted(p.name for p in window.session.photos.values()) == [p.name for p in photos[:2]]
    assert window.session.problems == []  # no half-copied file was queued (it would fail)

    shutil.copy(photos[2], inbox / photos[2].name)  # one more while the others are done
    qtbot.waitUntil(lambda: len(window.session.photos) == 3, timeout=20000)
    qtbot.waitUntil(
        lambda: all(p.status == DONE for p in window.session.photos.values()) and not window.busy,
        timeout=60000,
    )
    qtbot.wait(1500)  # nothing is queued twice
    assert len(window.session.photos) == 3
    assert not any(p.status in (QUEUED, FAILED) for p in window.session.photos.values())

    window.close()  # the app closes still watching: the next start watches again
    qtbot.waitUntil(lambda: feed.watcher is None, timeout=5000)  # its threads are stopped
    assert window.settings.watch_folder == str(inbox)
    again = open_window()
    qtbot.waitUntil(lambda: again.watch_feed.watching, timeout=10000)
    assert again.watch_feed.folder == inbox
    qtbot.wait(int(again.watch_feed.settle_s * 1000) + 1500)  # the files there are seen again
    assert len(again.session.photos) == 3  # and not queued twice
    again.acts.stop_watching.trigger()
    assert not again.watch_feed.watching and again.settings.watch_folder == ""


def test_a_folder_that_cannot_be_watched_is_said(qtbot, open_window, tmp_path):
    window = open_window()
    window.watch_feed.start(tmp_path / "gone")
    qtbot.waitUntil(lambda: "Cannot watch" in window.statusBar().currentMessage(), timeout=10000)
    assert "not a folder" in window.statusBar().currentMessage()
    assert not window.watch_feed.watching and not window.acts.stop_watching.isEnabled()
