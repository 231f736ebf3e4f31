"""The batch controller: starts, pauses and cancels the segmentation of the queue on a worker
thread, and turns the worker's signals into queue statuses (only here, on the UI thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QStatusBar, QWidget

from app.model import SessionModel
from app.session import DONE, FAILED, PROCESSING, QUEUED, TOUCHED
from app.settings import Settings
from app.widgets.queue_view import QueueTree
from app.worker import BatchJob, BatchWorker, fmt_time, start_batch

STATUS_SAVE_MS = 1000  # a running batch saves the queue at most this often


def _photos(n: int) -> str:
    return f"{n} photo{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class BatchView:
    """What the batch shows its progress in and asks of the window (public parts only)."""

    parent: QWidget  # of its message boxes
    status: QStatusBar
    progress: QProgressBar
    rate_label: QLabel
    queue: QueueTree  # its selection (Run selected again)
    model_paths: Callable[[], list[Path]]
    device: Callable[[], str]


class BatchController(QObject):
    """One batch at a time: statuses go through the `SessionModel`, progress to `BatchView`."""

    busy_changed = Signal(bool)
    engine_ready = Signal(str, str)  # device label, model label
    mask_written = Signal(str)  # a photo's new model mask is on disk (key)
    finished = Signal()

    def __init__(self, model: SessionModel, settings: Settings, view: BatchView, parent: QObject):
        super().__init__(parent)
        self.model, self.settings, self.v = model, settings, view
        self.worker: BatchWorker | None = None
        self.worker_thread: QThread | None = None
        self.segmented = self.failed = 0  # this batch's photos, as they come
        self._queued_note = False  # the status bar says how many photos a restart found queued
        # session.json holds the whole queue: a batch saves it once a second, not once per photo
        self._status_save_timer = QTimer(self, singleShot=True, interval=STATUS_SAVE_MS)
        self._status_save_timer.timeout.connect(model.save)
        self._preparing_timer = QTimer(self, interval=1000)  # the seconds the conversion takes
        self._preparing_timer.timeout.connect(self._show_preparing)
        self._preparing_text, self._preparing_since = "", 0.0

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def has_model(self) -> bool:
        """A model is chosen and installed (a batch could start)."""
        return bool(self.v.model_paths())

    def holds(self, key: str) -> bool:
        """The running batch has the photo (it cannot leave the queue meanwhile)."""
        return self.worker is not None and key in self.worker.keys

    def start(self) -> None:
        v, session = self.v, self.model.session
        if self.worker is not None:
            return
        pending = session.pending()
        if not pending:
            v.status.showMessage("Nothing to do: every photo is segmented.", 5000)
            return
        models = v.model_paths()
        if not models:
            QMessageBox.warning(
                v.parent, "No model", "No model is installed. Add a model file to the library."
            )
            return
        self.model.requeue(pending)
        jobs = [BatchJob(p.key, p.path, session.mask_file(p, "model")) for p in pending]
        self.segmented = self.failed = 0
        self._queued_note = False
        self.worker = BatchWorker(jobs, models, v.device())
        self.worker.engine_ready.connect(self._engine_ready)
        self.worker.engine_failed.connect(self._engine_failed)
        self.worker.preparing.connect(self._preparing)
        self.worker.photo_started.connect(self._photo_started)
        self.worker.photo_result.connect(self._photo_result)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        v.progress.setRange(0, len(jobs))
        v.progress.setValue(0)
        v.progress.setVisible(True)
        v.rate_label.setText("loading the model…")
        self.worker_thread = start_batch(self.worker)
        self.busy_changed.emit(True)

    def after_restart(self) -> None:
        """Photos still queued from an earlier run are said so; their batch goes on by itself
        when the app was closed while it ran (the operator was told it would)."""
        resume, self.settings.resume_batch = self.settings.resume_batch, 0
        queued = self.model.session.count(QUEUED)
        if not queued:
            return
        if resume:
            self.v.status.showMessage(f"Resuming the batch: {_photos(queued)} still queued", 10000)
            QTimer.singleShot(0, self.start)
        else:
            self._queued_note = True
            self.show_queued()

    def show_queued(self) -> None:
        """The "still queued" note of a restart follows the queue (photos removed or added)
        until a batch starts."""
        if self._queued_note and not self.busy:
            queued = self.model.session.count(QUEUED)
            self.v.rate_label.setText(
                f"{_photos(queued)} still queued — Start (F5)" if queued else ""
            )

    def toggle_pause(self, checked: bool) -> None:
        if self.worker is None:
            self.busy_changed.emit(False)  # Pause is not checked without a batch
            return
        if checked:
            self.worker.pause()
            self.v.rate_label.setText("paused (after the current photo)")
        else:
            self.worker.resume()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.v.rate_label.setText("cancelling after the current photo…")

    def stop_and_wait(self, ms: int = 60000) -> None:
        """Cancel the batch and wait for the photo in progress (closing the window)."""
        if self.worker is not None:
            self.worker.cancel()
            if self.worker_thread is not None:
                self.worker_thread.wait(ms)

    def rerun_selected(self) -> None:
        session = self.model.session
        photos = [session.photos[k] for k in self.v.queue.selected_keys()]
        photos = [p for p in photos if p.status != PROCESSING]
        if not photos:
            return
        if self.busy:
            self.v.status.showMessage("A batch is running: run them again once it ends.", 8000)
            return
        touched = [p for p in photos if p.status == TOUCHED]
        discard: list[str] = []
        if touched:
            answer = QMessageBox.question(
                self.v.parent,
                "Touched-up photos",
                f"{len(touched)} of the selected photos have touch-ups. Discard them and use the "
                "new model masks?\n\nYes: discard the touch-ups. No: run the model but keep the "
                "touch-ups.",
                QMessageBox.StandardButton.Yes
                | QMessageBox.StandardButton.No
                | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                discard = [p.key for p in touched]  # once their new masks are in
        # each photo keeps its cutout (and touch-up) until its new mask comes: a cancel leaves
        # the photos not run yet as they were
        self.model.requeue(photos, discard_touchups=discard)
        self.start()
        if self.worker is None:  # it did not start (no model): nothing was run again
            self.model.settle_reruns()
            self.model.save()

    # -- the worker's signals (UI thread) ---------------------------------------------------
    @Slot(str, int, int)
    def _preparing(self, _name: str, n: int, count: int) -> None:
        """The first batch converts the model for this PC (OpenVINO, once per model file):
        seconds before the first photo, said so with a busy bar and the time it has taken."""
        which = f" ({n} of {count})" if count > 1 else ""
        self._preparing_text = f"Preparing the model for this PC (once){which}…"
        self._preparing_since = time.monotonic()
        self.v.progress.setRange(0, 0)  # busy: the converter reports no steps
        self._preparing_timer.start()
        self._show_preparing()

    def _show_preparing(self) -> None:
        seconds = time.monotonic() - self._preparing_since
        self.v.rate_label.setText(f"{self._preparing_text} {seconds:.0f} s")

    def _prepared(self) -> None:
        if self._preparing_timer.isActive():
            self._preparing_timer.stop()
            self.v.progress.setRange(0, len(self.worker.jobs) if self.worker else 0)
            self.v.rate_label.setText("segmenting…")

    @Slot(str, str)
    def _engine_ready(self, device: str, model: str) -> None:
        self._prepared()
        self.engine_ready.emit(device, model)

    @Slot(str)
    def _engine_failed(self, message: str) -> None:
        QMessageBox.critical(self.v.parent, "Cannot start the batch", message)

    @Slot(str)
    def _photo_started(self, key: str) -> None:
        photo = self.model.photos.get(key)
        if photo:
            self.model.show_processing(photo)  # saved as queued if the app stops now

    @Slot(object)
    def _photo_result(self, result) -> None:
        """One photo of the batch, done or failed (an `engine.batch.photo.PhotoResult`)."""
        if result.error is not None:
            self._photo_failed(result.job.key, result.reason)
            return
        checked = result.matte.confidence
        conf, reasons = checked.value, list(checked.reasons)
        self._photo_done(result.job.key, result.seconds, result.model, conf, reasons)

    def _photo_done(
        self, key: str, seconds: float, model: str, confidence: float, reasons: list
    ) -> None:
        photo = self.model.photos.get(key)
        if photo:
            self.segmented += 1
            self.model.set_status(
                photo,
                DONE,
                save=False,
                seconds=seconds,
                model=model,
                confidence=confidence,
                reasons=reasons,
                set_reasons=[],
                reviewed=False,
            )
            self._save_statuses_soon()
            self.mask_written.emit(key)

    def _photo_failed(self, key: str, reason: str) -> None:
        photo = self.model.photos.get(key)
        if photo:
            self.failed += 1
            self.model.set_status(photo, FAILED, reason, save=False)
            self._save_statuses_soon()

    def _save_statuses_soon(self) -> None:
        """Within a second (not restarted by the next photo: a long batch still saves)."""
        if not self._status_save_timer.isActive():
            self._status_save_timer.start()

    @Slot(int, int, float, float)
    def _progress(self, done: int, total: int, rate: float, left: float) -> None:
        self.v.progress.setRange(0, total)
        self.v.progress.setValue(done)
        if not (self.worker and self.worker.paused):
            text = f"{done}/{total} · {rate:.2f} photos/s · {fmt_time(left)} left"
            self.v.rate_label.setText(text)

    @Slot(bool)
    def _finished(self, cancelled: bool) -> None:
        self._prepared()
        self.model.unfinished_to_queued()
        self.model.settle_reruns()  # run again, no new mask (a cancel): done again, as they were
        self._status_save_timer.stop()
        self.model.save()
        verb = "Cancelled" if cancelled else "Finished"  # this batch's photos, not the queue's
        self.v.rate_label.setText(f"{verb}: {self.segmented} segmented, {self.failed} failed")
        self.finished.emit()
        self.v.progress.setVisible(False)
        if self.worker_thread is not None:
            self.worker_thread.wait()
        self.worker, self.worker_thread = None, None
        self.busy_changed.emit(False)
