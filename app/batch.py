"""The batch controller: starts, pauses and cancels the segmentation of the queue on a worker
thread, and turns the worker's signals into queue statuses (only here, on the UI thread)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QMessageBox

from app.session import DONE, FAILED, PROCESSING, QUEUED, TOUCHED
from app.worker import BatchJob, BatchWorker, fmt_time, start_batch

STATUS_SAVE_MS = 1000  # a running batch saves the queue at most this often


def _photos(n: int) -> str:
    return f"{n} photo{'s' if n != 1 else ''}"


class BatchController(QObject):
    """One batch at a time for a `MainWindow` (its session, queue, status bar and actions)."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.worker: BatchWorker | None = None
        self.thread = None
        self.segmented = self.failed = 0  # this batch's photos, as they come
        self._queued_note = False  # the status bar says how many photos a restart found queued
        # session.json holds the whole queue: a batch saves it once a second, not once per photo
        self._status_save_timer = QTimer(self, singleShot=True, interval=STATUS_SAVE_MS)
        self._status_save_timer.timeout.connect(window.session.save)
        self._preparing_timer = QTimer(self, interval=1000)  # the seconds the conversion takes
        self._preparing_timer.timeout.connect(self._show_preparing)
        self._preparing_text, self._preparing_since = "", 0.0

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        w = self.w
        if self.worker is not None:
            return
        pending = w.session.pending()
        if not pending:
            w.statusBar().showMessage("Nothing to do: every photo is segmented.", 5000)
            return
        models = w.model_paths()
        if not models:
            QMessageBox.warning(
                w, "No model", "No model is installed. Add a model file to the library."
            )
            return
        w.session.requeue(pending)
        for photo in pending:
            w.queue.show_status(photo, w.session)
        jobs = [BatchJob(p.key, p.path, w.session.mask_file(p, "model")) for p in pending]
        self.segmented = self.failed = 0
        self._queued_note = False
        self.worker = BatchWorker(jobs, models, w.device_combo.currentText())
        self.worker.engine_ready.connect(self._engine_ready)
        self.worker.engine_failed.connect(self._engine_failed)
        self.worker.preparing.connect(self._preparing)
        self.worker.photo_started.connect(self._photo_started)
        self.worker.photo_done.connect(self._photo_done)
        self.worker.photo_failed.connect(self._photo_failed)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        w.progress.setRange(0, len(jobs))
        w.progress.setValue(0)
        w.progress.setVisible(True)
        w.rate_label.setText("loading the model…")
        self.thread = start_batch(self.worker)
        w._update_actions()

    def after_restart(self) -> None:
        """Photos still queued from an earlier run are said so; their batch goes on by itself
        when the app was closed while it ran (the operator was told it would)."""
        w = self.w
        resume, w.settings.resume_batch = w.settings.resume_batch, 0
        queued = w.session.count(QUEUED)
        if not queued:
            return
        if resume:
            w.statusBar().showMessage(f"Resuming the batch: {_photos(queued)} still queued", 10000)
            QTimer.singleShot(0, self.start)
        else:
            self._queued_note = True
            self.show_queued()

    def show_queued(self) -> None:
        """The "still queued" note of a restart follows the queue (photos removed or added)
        until a batch starts."""
        if self._queued_note and not self.busy:
            queued = self.w.session.count(QUEUED)
            self.w.rate_label.setText(
                f"{_photos(queued)} still queued — Start (F5)" if queued else ""
            )

    def toggle_pause(self, checked: bool) -> None:
        if self.worker is None:
            self.w.pause_action.setChecked(False)
            return
        if checked:
            self.worker.pause()
            self.w.rate_label.setText("paused (after the current photo)")
        else:
            self.worker.resume()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.w.rate_label.setText("cancelling after the current photo…")

    def stop_and_wait(self, ms: int = 60000) -> None:
        """Cancel the batch and wait for the photo in progress (closing the window)."""
        if self.worker is not None:
            self.worker.cancel()
            if self.thread is not None:
                self.thread.wait(ms)

    def rerun_selected(self) -> None:
        w = self.w
        photos = [w.session.photos[k] for k in w.queue.selected_keys()]
        photos = [p for p in photos if p.status != PROCESSING]
        if not photos:
            return
        if self.busy:
            w.statusBar().showMessage("A batch is running: run them again once it ends.", 8000)
            return
        touched = [p for p in photos if p.status == TOUCHED]
        discard: list[str] = []
        if touched:
            answer = QMessageBox.question(
                w,
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
        w.session.requeue(photos, discard_touchups=discard)
        self.start()
        if self.worker is None:  # it did not start (no model): nothing was run again
            self._settle_reruns()
            w.session.save()

    def _settle_reruns(self) -> None:
        """Photos run again that got no new mask (a cancel) are done again, as they were."""
        for photo in self.w.session.settle_reruns():
            self.w.queue.show_status(photo, self.w.session)

    # -- the worker's signals (UI thread) ---------------------------------------------------
    @Slot(str, int, int)
    def _preparing(self, _name: str, n: int, count: int) -> None:
        """The first batch converts the model for this PC (OpenVINO, once per model file):
        seconds before the first photo, said so with a busy bar and the time it has taken."""
        which = f" ({n} of {count})" if count > 1 else ""
        self._preparing_text = f"Preparing the model for this PC (once){which}…"
        self._preparing_since = time.monotonic()
        self.w.progress.setRange(0, 0)  # busy: the converter reports no steps
        self._preparing_timer.start()
        self._show_preparing()

    def _show_preparing(self) -> None:
        seconds = time.monotonic() - self._preparing_since
        self.w.rate_label.setText(f"{self._preparing_text} {seconds:.0f} s")

    def _prepared(self) -> None:
        if self._preparing_timer.isActive():
            self._preparing_timer.stop()
            self.w.progress.setRange(0, len(self.worker.jobs) if self.worker else 0)
            self.w.rate_label.setText("segmenting…")

    @Slot(str, str)
    def _engine_ready(self, device: str, model: str) -> None:
        self._prepared()
        self.w._show_device(device)
        self.w.model_label.setText(f"model: {model}")

    @Slot(str)
    def _engine_failed(self, message: str) -> None:
        QMessageBox.critical(self.w, "Cannot start the batch", message)

    @Slot(str)
    def _photo_started(self, key: str) -> None:
        photo = self.w.session.photos.get(key)
        if photo:
            photo.status = PROCESSING  # shown only; saved as queued if the app stops now
            self.w.queue.show_status(photo, self.w.session)

    @Slot(str, float, str, float, list)
    def _photo_done(
        self, key: str, seconds: float, model: str, confidence: float, reasons: list
    ) -> None:
        w = self.w
        photo = w.session.photos.get(key)
        if photo:
            self.segmented += 1
            w.session.set_status(
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
            w.queue.show_status(photo, w.session)
            if key == w.current_key:
                w.show_photo(key)

    @Slot(str, str)
    def _photo_failed(self, key: str, reason: str) -> None:
        w = self.w
        photo = w.session.photos.get(key)
        if photo:
            self.failed += 1
            w.session.set_status(photo, FAILED, reason, save=False)
            self._save_statuses_soon()
            w.queue.show_status(photo, w.session)

    def _save_statuses_soon(self) -> None:
        """Within a second (not restarted by the next photo: a long batch still saves)."""
        if not self._status_save_timer.isActive():
            self._status_save_timer.start()

    @Slot(int, int, float, float)
    def _progress(self, done: int, total: int, rate: float, left: float) -> None:
        self.w.progress.setRange(0, total)
        self.w.progress.setValue(done)
        if not (self.worker and self.worker.paused):
            text = f"{done}/{total} · {rate:.2f} photos/s · {fmt_time(left)} left"
            self.w.rate_label.setText(text)

    @Slot(bool)
    def _finished(self, cancelled: bool) -> None:
        self._prepared()
        w, session = self.w, self.w.session
        for photo in session.photos.values():
            if photo.status == PROCESSING:
                session.set_status(photo, QUEUED, save=False)
                w.queue.show_status(photo, session)
        self._settle_reruns()
        self._status_save_timer.stop()
        session.save()
        verb = "Cancelled" if cancelled else "Finished"  # this batch's photos, not the queue's
        w.rate_label.setText(f"{verb}: {self.segmented} segmented, {self.failed} failed")
        w.review.batch_finished()
        w.progress.setVisible(False)
        w.pause_action.setChecked(False)
        if self.thread is not None:
            self.thread.wait()
        self.worker, self.thread = None, None
        w._update_actions()
