"""Workers: everything slow runs off the UI thread and reports through Qt signals.

- `BatchWorker` (in its own QThread) loads the model(s) once, segments the queued photos one by
  one, writes each model mask to the file it was given and reports progress. The next photo is
  decoded and the last mask written on their own threads meanwhile (`engine.inference.pipeline`).
  It is handed
  `BatchJob`s made on the UI thread and never touches the session: statuses change only on the UI
  thread, from its signals. Pause waits between photos; cancel stops at the next photo.

  Hand-written rather than superqt's `GeneratorWorker` (the dependency was dropped): superqt 0.9
  loses a resume asked for before the worker reaches its next yield (Pause then Resume during
  one photo leaves the batch paused while the button says it runs), and its workers share the
  global QThreadPool, which on a 2-core machine has 2 threads for intake scans, previews and
  exports too.
- `call_in_pool` runs a function on the global QThreadPool (intake scans, export, loading a photo
  for the preview) and delivers its result or error on the UI thread.
"""

from __future__ import annotations

import functools
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

_predictors: dict[tuple, object] = {}  # (model files, device) → Predictor, reused across batches
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


def get_predictor(models: list[Path], device: str):
    from engine.inference.predict import Predictor

    key = (tuple(str(m) for m in models), device)
    with _predictor_lock:
        if key not in _predictors:
            _predictors.clear()  # one set of models in memory at a time
            _predictors[key] = Predictor(list(models), device=device)
        return _predictors[key]


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
    photo_done = Signal(str, float, str, float, list)  # key, s, model, confidence, reasons
    photo_failed = Signal(str, str)  # key, reason
    progress = Signal(int, int, float, float)  # done, total, photos/s, seconds left
    finished = Signal(bool)  # True when cancelled

    def __init__(self, jobs: list[BatchJob], models: list[Path], device: str):
        super().__init__()
        self.jobs, self.models, self.device = list(jobs), models, device
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

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @Slot()
    def run(self) -> None:
        from app.session import write_mask_file
        from engine.inference.backends.select import preparing
        from engine.inference.memory import HeapKeeper
        from engine.inference.pipeline import WriteBehind, read_ahead
        from engine.io import ImageReadError, read_rgb

        try:
            with preparing(self.preparing.emit):  # the first batch converts the model (seconds)
                predictor = get_predictor(self.models, self.device)
        except Exception as exc:  # no model file, bad file, CUDA requested without a GPU, ...
            log.exception("cannot start the batch")
            self.engine_failed.emit(str(exc))
            self.finished.emit(False)
            return
        log.info("batch on %s with %s", predictor.device_label, predictor.label)
        self.engine_ready.emit(predictor.device_label, predictor.label)
        total, done, t0 = len(self.jobs), 0, time.perf_counter()
        heap = HeapKeeper()
        busy = 0.0  # seconds spent working (pauses do not count towards the rate)
        mark = time.perf_counter()  # when the work last resumed, or a photo was last finished

        def failed(job: BatchJob, exc: BaseException) -> None:
            if isinstance(exc, ImageReadError):
                self.photo_failed.emit(job.key, exc.reason)
            else:  # out of memory, a disk error, ...: this photo only
                log.error("%s failed:\n%s", job.photo, "".join(traceback.format_exception(exc)))
                self.photo_failed.emit(job.key, f"{type(exc).__name__}: {exc}")

        def written(job: BatchJob, t: float, checked, error=None) -> Callable:
            def then(future) -> None:  # on this thread, once the mask file is complete
                nonlocal done, busy, mark
                if (exc := error or future.exception()) is not None:
                    failed(job, exc)
                else:
                    reasons = list(checked.reasons)
                    seconds = time.perf_counter() - t
                    self.photo_done.emit(job.key, seconds, predictor.label, checked.value, reasons)
                now = time.perf_counter()
                busy, mark, done = busy + now - mark, now, done + 1
                rate = done / busy if busy > 0 else 0.0
                self.progress.emit(done, total, rate, (total - done) / rate if rate > 0 else 0.0)

            return then

        # the next photo is decoded and the last mask encoded while this one is segmented
        reads = read_ahead(self.jobs, lambda job: read_rgb(job.photo))
        with WriteBehind(depth=1) as writes:
            for item in reads:
                job = item.source
                writes.poll()  # the last photo's done, as soon as its mask is on disk
                if not self._running.is_set():
                    writes.drain()
                    busy += time.perf_counter() - mark
                    self._running.wait()
                    mark = time.perf_counter()
                if self._cancel.is_set():
                    break
                self.photo_started.emit(job.key)
                t = time.perf_counter()
                try:
                    if item.error is not None:
                        raise item.error
                    mask, checked = predictor.predict_checked(item.value)
                except Exception as exc:  # reported in turn, after the photos before it
                    writes.submit(lambda: None, written(job, t, None, exc))
                    continue
                finally:
                    heap.after_photo()  # thousands of photos in one session: memory stays flat
                write = functools.partial(write_mask_file, job.mask, mask)
                writes.submit(write, written(job, t, checked))
            reads.close()
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
