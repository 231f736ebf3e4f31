"""The studio window end to end on real photos: drop a folder, run the batch on a real model,
touch up a mask, export, and reopen — offscreen with pytest-qt."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from cutout_checks import assert_cutout_of

pytest.importorskip("PySide6")

from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel

from app.session import DONE, FAILED, TOUCHED, Session
from app.window import MainWindow

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


@pytest.fixture
def studio(tmp_path, tiny_library):
    """A shoot folder with real photos and junk, a model library with a real trained model."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    for f in sorted((CARVANA / "val").glob("0ed6904e1004_*.jpg")):
        shutil.copy(f, shoot / f.name)
    data = (CARVANA / "val" / "1a17a1bd648b_03.jpg").read_bytes()
    (shoot / "1a17a1bd648b_03.jpg").write_bytes(data[: len(data) // 3])  # truncated: fails later
    (shoot / "notes.jpg").write_text("not a photo")
    return shoot


def _digests(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        f.name: (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
        for f in folder.iterdir()
        if f.is_file()
    }


def _drop(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def _run_batch(qtbot, window: MainWindow, ui_ticks) -> list[float]:
    """Start the batch and return the gaps between ticks of a 20 ms UI timer while it ran."""
    ui_ticks.start()
    window.acts.start.trigger()
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    return ui_ticks.gaps()


def _stroke(qtbot, window: MainWindow, photo_xy: tuple[int, int]) -> None:
    view = window.pane.original_view
    pos = view.mapFromScene(QPointF(*photo_xy))
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseMove(viewport, pos + QPoint(12, 0))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=pos + QPoint(12, 0))


def test_drop_run_touch_up_export_and_reopen(qtbot, open_window, tmp_path, studio, ui_ticks):
    before = _digests(studio)
    window = open_window()
    qtbot.waitUntil(lambda: window.device_label.text() != "device: …", timeout=30000)
    assert window.device_label.text().startswith(("device: CPU", "device: CUDA"))
    assert "tiny" in window.model_combo.currentText()

    _drop(window, [studio])
    qtbot.waitUntil(lambda: len(window.session.photos) == 5, timeout=10000)
    assert set(window.queue.cars) == {"0ed6904e1004", "1a17a1bd648b"}
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert problems == ["notes.jpg: not an image file (unrecognised content)"]

    gaps = _run_batch(qtbot, window, ui_ticks)
    statuses = {p.name: p.status for p in window.session.photos.values()}
    assert [statuses[n] for n in sorted(statuses)][:4] == [DONE] * 4
    bad = window.session.photos[str((studio / "1a17a1bd648b_03.jpg").resolve())]
    assert bad.status == FAILED and "truncated" in bad.error
    assert "failed: " in window.queue.items[bad.key].text(1)
    assert window.device_label.text().startswith(("device: CPU", "device: CUDA"))
    assert max(gaps) < 0.5, "the window stopped answering while the batch ran"
    # the batch saves the queue once a second and when it ends: a crash now loses nothing
    saved = Session.load(window.session.folder).photos.values()
    assert {p.name: (p.status, p.error) for p in saved} == {
        p.name: (p.status, p.error) for p in window.session.photos.values()
    }

    # touch up the first photo: a brush stroke in the sky (no car there), then undo / redo
    key = str((studio / "0ed6904e1004_01.jpg").resolve())
    window.queue.select(key)
    qtbot.waitUntil(lambda: window.preview.current_key == key, timeout=10000)
    window.pane.zoom_fit()
    model_mask = window.document.mask.copy()
    window.set_tool("brush")
    window.pane.set_brush_size(10)
    _stroke(qtbot, window, (60, 20))
    changed = window.document.mask != model_mask
    ys, xs = np.nonzero(changed)
    assert changed.any() and window.document.mask[changed].all()  # only added car
    assert ys.min() >= 20 - 12 and ys.max() <= 20 + 12 and xs.min() >= 60 - 12
    window.acts.undo.trigger()
    assert np.array_equal(window.document.mask, model_mask)
    window.acts.redo.trigger()
    touched = window.document.mask.copy()
    assert changed.sum() == (touched != model_mask).sum()
    window.preview.save_touchup()
    assert window.session.photos[key].status == TOUCHED
    assert window.queue.items[key].text(1) == "touched up"

    # each photo keeps its own history: on another photo Ctrl+Z has nothing of the first to
    # undo; back on the first, it undoes the stroke made before the switch
    other = next(k for k, p in window.session.photos.items() if k != key and p.status == DONE)
    window.queue.select(other)
    qtbot.waitUntil(lambda: window.preview.current_key == other, timeout=10000)
    assert not window.acts.undo.isEnabled()
    window.queue.select(key)
    qtbot.waitUntil(lambda: window.preview.current_key == key, timeout=10000)
    assert window.acts.undo.isEnabled() and "Brush stroke" in window.acts.undo.text()
    window.acts.undo.trigger()
    assert np.array_equal(window.document.mask, model_mask)
    window.acts.redo.trigger()
    assert np.array_equal(window.document.mask, touched)
    window.grab().save(str(tmp_path / "main-window.png"))

    # export: the PNG's alpha is the touched-up mask, the photo's own pixels, originals untouched
    dialog = window.open_export()
    out = tmp_path / "export"
    dialog.folder.setText(str(out))
    dialog.mask_box.setChecked(True)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30000)
    report = dialog.report
    assert len(report.written) == 8  # 4 photos × (cutout + mask)
    assert [(p.name, r) for p, r in report.skipped] == [
        ("1a17a1bd648b_03.jpg", f"failed: {bad.error}")
    ]
    assert report.failed == []
    rgba = np.asarray(Image.open(out / "0ed6904e1004_01.png"))
    assert rgba.shape == (320, 480, 4)
    from engine.io import read_rgb

    assert_cutout_of(rgba, read_rgb(studio / "0ed6904e1004_01.jpg"), touched)
    assert dialog.open_button.isEnabled()
    dialog.close()
    assert _digests(studio) == before

    # close and reopen: the queue, statuses and the touch-up are back
    window.close()
    again = open_window()
    assert {p.name: p.status for p in again.session.photos.values()} == {
        **statuses,
        "0ed6904e1004_01.jpg": TOUCHED,
    }
    assert len(again.queue.items) == 5
    assert again.problems.count() == 1
    again.queue.select(key)
    qtbot.waitUntil(lambda: again.preview.current_key == key, timeout=10000)
    assert np.array_equal(again.document.mask, touched)
    again.acts.reset.trigger()
    assert np.array_equal(again.document.mask, model_mask)


def test_model_list_offers_default_ensemble_and_each_member(
    open_window, tmp_path, monkeypatch, tiny_library
):
    """The shipped default once, the shipped ensemble, and every member on its own (the
    operator can pick the slower, better 512×768 model alone)."""
    models = tmp_path / "resources" / "models"
    models.mkdir(parents=True)
    for name in ("a", "b", "c"):
        shutil.copy(tiny_library / "tiny.safetensors", models / f"{name}.safetensors")
    (models / "manifest.json").write_text(
        '{"default": "b.safetensors", "ensemble": ["a.safetensors", "b.safetensors", '
        '"c.safetensors"]}'
    )
    monkeypatch.setenv("CARMASK_RESOURCES", str(models.parent))
    combo = open_window().model_combo
    items = [combo.itemData(i) for i in range(combo.count())]
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts[:2] == ["Default model (tiny)", "Ensemble (3 models)"]  # which model it is
    assert items[0] == ["default", [str(models / "b.safetensors")]]
    assert items[1][1] == [str(models / f"{n}.safetensors") for n in "abc"]
    singles = [data[0] for data in items[2:]]
    assert str(models / "a.safetensors") in singles and str(models / "c.safetensors") in singles
    assert str(models / "b.safetensors") not in singles  # the default is not listed twice
    assert str(tiny_library / "tiny.safetensors") in singles


def test_cancel_stops_at_the_next_photo_and_keeps_the_rest_queued(qtbot, open_window, studio):
    window = open_window()
    window.add_paths([str(studio)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 5, timeout=10000)
    window.acts.start.trigger()
    worker, started, late = window.worker, [], []

    def on_start(key: str) -> None:  # on the worker's thread, as the photo starts
        started.append(key)
        if worker._cancel.is_set():
            late.append(key)

    worker.photo_started.connect(on_start, Qt.ConnectionType.DirectConnection)
    worker.photo_result.connect(lambda r: r.error or window.acts.cancel.trigger())  # a done
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    counts = [p.status for p in window.session.photos.values()]
    # no photo starts once Cancel is in; the ones in flight (segmented, or their mask being
    # written) finish whole; the rest stay queued
    assert late == [] and 1 <= len(started) < 5
    assert counts.count(DONE) == len(started) and counts.count("queued") == 5 - len(started)
    assert "Cancelled" in window.rate_label.text()


def test_pause_waits_between_photos_and_resume_goes_on(qtbot, open_window, studio):
    """Pause holds the batch after the photo in progress; Resume (even one clicked before that
    photo ended) lets it go on to the end; only the UI thread changes statuses meanwhile."""
    window = open_window()
    window.add_paths([str(studio)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 5, timeout=10000)
    started: list[str] = []
    window.acts.start.trigger()
    window.worker.photo_started.connect(started.append)
    qtbot.waitUntil(lambda: len(started) >= 1, timeout=120000)  # two at once with the lanes
    window.acts.pause.trigger()  # during the first photo: held once it is done
    window.acts.pause.trigger()  # and resumed before it is: the batch must not stay held
    window.acts.pause.trigger()  # paused again
    qtbot.waitUntil(lambda: window.session.count(DONE) >= 1, timeout=120000)
    qtbot.wait(1500)
    held = len(started)
    assert held <= 2 and window.worker.paused and "paused" in window.rate_label.text()
    qtbot.wait(1500)
    assert len(started) == held  # nothing starts while paused
    window.acts.pause.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    assert len(started) == 5 and window.session.count(DONE) == 4  # and the truncated one failed
    assert "Finished: 4 segmented, 1 failed" in window.rate_label.text()


def test_rerun_keeps_a_touch_up_unless_the_operator_discards_it(
    qtbot, open_window, studio, monkeypatch, ui_ticks
):
    from PySide6.QtWidgets import QMessageBox

    window = open_window()
    window.add_paths([str(studio / "0ed6904e1004_01.jpg")])
    qtbot.waitUntil(lambda: len(window.session.photos) == 1, timeout=10000)
    _run_batch(qtbot, window, ui_ticks)
    (photo,) = window.session.photos.values()
    edit = ~window.session.mask(photo)
    window.session.save_touchup(photo, edit)

    window.queue.select(photo.key)
    qtbot.waitUntil(lambda: window.preview.current_key == photo.key, timeout=10000)
    for answer, expected in (
        (QMessageBox.StandardButton.No, TOUCHED),
        (QMessageBox.StandardButton.Yes, DONE),
    ):
        asked = []

        def reply(*args, answer=answer, asked=asked):
            asked.append(args[2])
            return answer

        monkeypatch.setattr(QMessageBox, "question", reply)
        window.queue.items[photo.key].setSelected(True)
        window.acts.rerun.trigger()
        qtbot.waitUntil(lambda: not window.busy, timeout=60000)
        assert asked and "touch-ups" in asked[0]
        assert photo.status == expected
    assert not np.array_equal(window.session.mask(photo), edit)


def test_an_empty_window_says_where_to_start_until_photos_are_queued(qtbot, open_window):
    """First start: a drop target with Add folder / Add photos / Open samples, not an empty
    preview; Open samples queues the shipped sample car and the preview takes its place."""
    from app.widgets.empty_state import DROP_TEXT, EmptyState

    window = open_window()
    window.show()
    empty = window.stage.currentWidget()
    assert isinstance(empty, EmptyState) and empty.isVisible()
    assert DROP_TEXT in [label.text() for label in empty.findChildren(QLabel)]
    if shots := os.environ.get("CARMASK_SCREENSHOTS"):  # to look at it
        window.grab().save(str(Path(shots) / "empty-window.png"))
    empty.buttons["samples"].click()
    qtbot.waitUntil(lambda: len(window.session.photos) == 16, timeout=20000)
    assert window.stage.currentWidget() is not empty and window.pane.isVisible()


def test_a_window_closed_while_thumbnails_are_made_takes_no_harm(qtbot, tmp_path):
    """Background results for a window that is gone (closed and deleted while its thumbnails
    were still being made) are dropped, not delivered into deleted widgets."""
    from PySide6.QtCore import QSettings, QThreadPool

    from app.settings import Settings
    from app.window import MainWindow

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session_dir=tmp_path / "session", settings=Settings(store))
    window.show()
    window.acts.samples.trigger()
    qtbot.waitUntil(lambda: len(window.session.photos) == 16, timeout=20000)
    window.close()
    window.deleteLater()
    qtbot.wait(50)  # the deletion happens; the thumbnails are still being made
    QThreadPool.globalInstance().waitForDone(30000)
    qtbot.wait(200)  # their results arrive now: an exception here fails the test


def test_the_device_line_says_how_many_photos_run_at_a_time(
    qtbot, carvana, trained_model, tmp_path
):
    """With two lanes each lane has half the threads: "CPU (1 thread)" alone would read as if
    the batch used one core, so the line says the photos run at a time, as the CLI does."""
    from app.worker import BatchJob, BatchWorker

    photos = sorted((carvana / "val").glob("*.jpg"))[:2]
    jobs = [BatchJob(str(p), p, tmp_path / f"{p.stem}_mask.png") for p in photos]
    worker = BatchWorker(jobs, [trained_model], "cpu", lanes=2)
    ready: list[str] = []
    worker.engine_ready.connect(lambda device, model: ready.append(device))
    worker.run()  # on this thread: its signals arrive at once
    assert ready and ready[0].startswith("CPU")
    assert "2 photos at a time" in ready[0]
    assert all((tmp_path / f"{p.stem}_mask.png").exists() for p in photos)
