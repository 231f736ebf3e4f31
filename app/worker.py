"""Workers: everything slow runs off the UI thread and reports through Qt signals.

- `BatchWorker` (in its own QThread) loads the model(s) once and runs the queued photos through
  `engine.batch.photo.run_batch`, as `carmask predict` does: on the CPU two photos at once, each
  read, segmented and its model mask written on its own lane (`get_lanes`). It reports one
  `photo_result` (a `PhotoResult`) per photo, in the queue's order, and the progress. It is
  handed `BatchJob`s made on the UI thread and never touches the session: statuses change only on
  the UI thread, from its signals. Pause lets the photos in progress finish and starts no other;
  cancel stops once those are done.

  Hand-written rather than superqt's `GeneratorWorker` (the dependency was dropped): superqt 0.9
  loses a resume asked for before the worker reaches its next yield (Pause then Resume during
  one photo leaves the batch paused while the button says it runs), and its workers share the
  global QThreadPool, which on a 2-core machine has 2 threads for intake scans, previews and
  exports too.
- `call_in_pool` runs a function on the global QThreadPool (intake scans, export, loading a photo
  for the preview) and delivers its result or error on the UI thread.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

_predictors: dict[tuple, list] = {}  # (PredictConfig, lanes at most) → the lanes' Predictors
_predictor_lock = threading.Lock()


class Progress(QObject):
    """(done, total) from a pool task; a queued connection delivers it on the UI thread."""

    changed = Signal(int, int)


def fmt_time(seconds: float) -> str:
    """Time left for progress labels: m:ss, or h:mm:ss from an hour on."""
    s = max(0, round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def get_lanes(models: list[Path], device: str, photos: int, lanes: int = 0):
    """The batch's predictors, one per lane (`engine.inference.lanes.make_lanes`: two photos at
    once on a CPU with 2 threads or more, as `carmask predict`; benchmarks/app_batch.py), and a
    function that gives the threads back. Kept across batches (one set of models in
    memory at a time)."""
    from engine.inference.config import PredictConfig
    from engine.inference.lanes import make_lanes, share_threads

    config = PredictConfig(models=tuple(models), device=device, lanes=lanes)
    key = (config, min(photos, lanes or 2))
    with _predictor_lock:
        if key in _predictors:
            return _predictors[key], share_threads(len(_predictors[key]))[1]
        _predictors.clear()  # one set of models in memory at a time
        built, restore = make_lanes(config, photos)
        _predictors[key] = built
        return built, restore


@dataclass(frozen=True)
class BatchJob:
    """One photo of a batch: its queue key, the photo file and where its model mask goes."""

    key: str
    photo: Path
    mask: Path


class BatchWorker(QObject):
    engine_ready = Signal(str, str)  # device label, model label
    engine_failed = Signal(str)  # why no model could run (the batch does not start)
    preparing = Signal(str, int, int)  # a model converted for this PC first: name, n, of count
    photo_started = Signal(str)
    photo_result = Signal(object)  # an engine.batch.photo.PhotoResult: done or failed
    progress = Signal(int, int, float, float)  # done, total, photos/s, seconds left
    finished = Signal(bool)  # True when cancelled

    def __init__(self, jobs: list[BatchJob], models: list[Path], device: str, lanes: int = 0):
        super().__init__()
        self.jobs, self.models, self.device = list(jobs), models, device
        self.lanes = lanes  # photos segmented at once; 0: as `get_lanes` sees fit
        self.paused_seconds = 0.0  # time spent paused (not counted in the rate)
        self._paused_at: float | None = None
        self.keys = frozenset(job.key for job in self.jobs)  # the photos this batch holds
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # thread-safe controls (called from the UI thread)
    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()
        if self._paused_at is None:
            self._paused_at = time.perf_counter()

    def resume(self) -> None:
        self._running.set()
        if self._paused_at is not None:
            self.paused_seconds += time.perf_counter() - self._paused_at
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @Slot()
    def run(self) -> None:
        from app.session import write_mask_file
        from engine.batch.photo import DONE, FAILED, NOT_STARTED, PhotoJob, run_batch
        from engine.inference.backends.select import preparing
        from engine.io import ImageReadError

        try:
            with preparing(self.preparing.emit):  # the first batch converts the model (seconds)
                lanes, restore_threads = get_lanes(
                    self.models, self.device, len(self.jobs), self.lanes
                )
        except Exception as exc:  # no model file, bad file, CUDA requested without a GPU, ...
            log.exception("cannot start the batch")
            self.engine_failed.emit(str(exc))
            self.finished.emit(False)
            return
        predictor = lanes[0]
        at_once = f"; {len(lanes)} photos at a time" if len(lanes) > 1 else ""  # as the CLI says
        device = f"{predictor.device_label}{at_once}"  # each lane's threads are a share of them
        log.info("batch on %s with %s", device, predictor.label)
        self.engine_ready.emit(device, predictor.label)
        total, done, t0 = len(self.jobs), 0, time.perf_counter()

        def start(job: PhotoJob) -> bool:  # on this thread, as the photo starts on its lane
            if self._cancel.is_set():
                return False
            self.photo_started.emit(job.key)
            return True

        def write(job: PhotoJob, _photo, matte) -> list[Path]:  # the model mask, for the session
            write_mask_file(job.outputs["mask"], matte.mask)
            return [job.outputs["mask"]]

        def handled(result) -> None:  # on this thread, in the queue's order
            nonlocal done
            if result.status == NOT_STARTED:
                return
            if result.status == FAILED and not isinstance(result.error, ImageReadError):
                trace = "".join(traceback.format_exception(result.error))  # out of memory, ...
                log.error("%s failed:\n%s", result.path, trace)
            elif result.status == DONE:
                result.photo = None  # the pixels stay on this thread; the mask is in its file
            self.photo_result.emit(result)
            done += 1
            busy = time.perf_counter() - t0 - self.paused_seconds  # pauses do not count
            rate = done / busy if busy > 0 else 0.0
            self.progress.emit(done, total, rate, (total - done) / rate if rate > 0 else 0.0)

        jobs = [PhotoJob(job.photo, job.key, {"mask": job.mask}) for job in self.jobs]
        hold = lambda _job: self._running.wait()  # noqa: E731  (on its lane: a pause holds it)
        batch = run_batch(jobs, lanes, write, checked=True, hold=hold, start=start)
        try:
            for result in batch:
                handled(result)
                if self._cancel.is_set():
                    break
            for result in batch.stop():  # cancelled: the photos in progress finish, and count
                handled(result)
            batch.close()
        finally:
            restore_threads()
        log.info("batch ended: %d photo(s) in %.1f s", done, time.perf_counter() - t0)
        self.finished.emit(self._cancel.is_set())


def start_batch(worker: BatchWorker) -> QThread:
    """Run the worker in a new QThread that ends (and is cleaned up) with the batch."""
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # quit() is thread-safe; a queued call would wait for the UI thread, which may be waiting
    # for this thread to end
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


class _Relay(QObject):
    """Lives on the UI thread; its own slots receive the pool thread's signals (queued), so the
    callbacks run on the UI thread."""

    result = Signal(object)
    error = Signal(str)

    def __init__(self, on_result: Callable, on_error: Callable[[str], None] | None):
        super().__init__()
        self.on_result, self.on_error = on_result, on_error
        self.result.connect(self._deliver)
        self.error.connect(self._fail)

    def _receiver_gone(self, callback) -> bool:
        """A window (or dialog) closed and destroyed while its task ran, or the window of the
        controller the callback belongs to: nothing to show the result in (its widgets are
        deleted), so it is dropped."""
        owner = getattr(callback, "__self__", None)
        if owner is not None and not isinstance(owner, QObject):
            owner = getattr(owner, "w", None)  # a controller (review, batch...): its window
        return isinstance(owner, QObject) and not shiboken6.isValid(owner)

    @Slot(object)
    def _deliver(self, value) -> None:
        _live.discard(self)
        if self._receiver_gone(self.on_result):
            log.info("a background result came after its window closed; dropped")
            return
        self.on_result(value)

    @Slot(str)
    def _fail(self, message: str) -> None:
        _live.discard(self)
        if self.on_error and not self._receiver_gone(self.on_error):
            self.on_error(message)


class _Task(QRunnable):
    def __init__(self, fn: Callable, relay: _Relay):
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            value = self.fn()
        except Exception as exc:
            log.error("background task failed:\n%s", traceback.format_exc())
            self.relay.error.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.relay.result.emit(value)


_live: set[_Relay] = set()  # relays waiting to deliver (kept alive until they have)


def call_in_pool(
    fn: Callable, on_result: Callable, on_error: Callable[[str], None] | None = None
) -> None:
    """Run `fn()` on the thread pool; `on_result(value)` / `on_error(message)` on the UI thread."""
    relay = _Relay(on_result, on_error)
    _live.add(relay)
    QThreadPool.globalInstance().start(_Task(fn, relay))
