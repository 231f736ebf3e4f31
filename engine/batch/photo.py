"""One way through the house: a photo read once, segmented and written (`process_photo`), and
the batch loop every caller runs (`run_batch`): `carmask predict`, `carmask watch`, the app's
batch and the benchmarks.

`run_batch` takes the predictors it is given, one per lane (`engine.inference.pipeline.Lanes`:
photos read, segmented and written on their own threads at once, results in the photos' order),
keeps the heap flat after each photo, runs what must follow a photo in order on a thread of its
own (`PhotoBatch.behind`: a car's listing frames) and, on Ctrl-C, finishes the photos in progress
(`PhotoBatch.stop`, `finish_before_stopping`). A job that carries the digest its folder's ledger
has it done with (`PhotoJob.expect`: `engine.batch.manifest`) is not decoded again while its
bytes are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.batch.export import ExportOptions, export_photo
from engine.batch.outputs import OutputPlan
from engine.inference.memory import HeapKeeper
from engine.inference.pipeline import Lanes, ReadResult, WriteBehind
from engine.io import (
    DEFAULT_MAX_MEGAPIXELS,
    ImageReadError,
    OutputWriteError,
    Photo,
    decode_photo,
    photo_bytes,
)
from engine.io.digest import bytes_digest
from engine.matte import Matte

__all__ = [
    "DONE",
    "FAILED",
    "NOT_STARTED",
    "UNCHANGED",
    "PhotoBatch",
    "PhotoJob",
    "PhotoResult",
    "exporting",
    "finish_before_stopping",
    "process_photo",
    "run_batch",
]

DONE, UNCHANGED, FAILED, NOT_STARTED = "done", "unchanged", "failed", "not started"
PHOTO_ERRORS = (ImageReadError, OutputWriteError)  # a bad photo or a failed write: this photo only


@dataclass(frozen=True)
class PhotoJob:
    """One photo of a batch: its file, the caller's name for it (the app's queue key), where its
    outputs go (`outputs`: the app's model mask file; the CLI's names are in its `OutputPlan`)
    and the digest the folder's ledger has it done with ("": it is done in any case)."""

    photo: Path
    key: str = ""
    outputs: dict[str, Path] = field(default_factory=dict)
    expect: str = ""


@dataclass
class PhotoResult:
    """What became of a job: DONE (its photo, matte and written files), UNCHANGED (the ledger
    has it done with these bytes: nothing read or written), FAILED (`error`) or NOT_STARTED."""

    job: PhotoJob
    status: str
    photo: Photo | None = None
    matte: Matte | None = None
    written: list[Path] = field(default_factory=list)
    digest: str = ""  # sha256 of the bytes read, when a ledger asked for it
    seconds: float = 0.0
    error: BaseException | None = None
    model: str = ""  # the label of the model(s) that segmented it

    @property
    def reason(self) -> str:
        """Why it failed, for a person: an unreadable photo's reason, else the error."""
        if isinstance(self.error, ImageReadError):
            return self.error.reason
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"

    @property
    def path(self) -> Path:
        return self.job.photo

    @property
    def photo_error(self) -> bool:
        """Failed for a reason of its own photo (unreadable, an output not writable): the batch
        goes on; any other error is a fault of the program or the machine."""
        return isinstance(self.error, PHOTO_ERRORS)


# the write step: (job, photo, matte) -> the files written
Write = Callable[[PhotoJob, Photo, Matte], list[Path]]


def exporting(out: str | os.PathLike[str], options: ExportOptions, plan: OutputPlan) -> Write:
    """The write step of `carmask predict` and `watch`: `export_photo` under the plan's names,
    the cut-out bounded by the photo's own transparency, with the colour profile of its decode."""

    def write(job: PhotoJob, photo: Photo, matte: Matte) -> list[Path]:
        return export_photo(
            photo.rgb, matte.alpha, job.photo, out, options, plan, photo.alpha, photo.icc
        )

    return write


def process_photo(
    job: PhotoJob,
    predictor,
    write: Write,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    checked: bool = False,
    ledger: bool = False,
) -> PhotoResult:
    """Read the photo once (its bytes; with `ledger` their digest, and nothing more when they
    are the ones `job.expect` names), segment it with `predictor` (`checked`: with its
    confidence) and `write` it. A bad photo or a failed write gives a FAILED result; any other
    exception is raised."""
    t0 = time.perf_counter()
    digest = ""
    try:
        data = photo_bytes(job.photo)
        if ledger or job.expect:
            digest = bytes_digest(data)
            if job.expect and digest == job.expect:
                return PhotoResult(job, UNCHANGED, digest=digest)
        photo = decode_photo(job.photo, data, max_megapixels)
        del data
        matte = predictor.predict_matte(photo.rgb, checked=checked)
        written = write(job, photo, matte)
    except PHOTO_ERRORS as exc:
        return PhotoResult(job, FAILED, digest=digest, error=exc)
    seconds = time.perf_counter() - t0
    return PhotoResult(job, DONE, photo, matte, written, digest, seconds, model=predictor.label)


class PhotoBatch:
    """The batch `run_batch` started: iterate it for each `PhotoResult`, in the jobs' order."""

    def __init__(
        self,
        jobs: Sequence[PhotoJob],
        predictors: Sequence[Any],
        write: Write,
        max_megapixels: float,
        checked: bool,
        ledger: bool,
        hold: Callable[[PhotoJob], Any] | None,
        start: Callable[[PhotoJob], bool] | None,
        patience: float,
        stalled: Callable[[Path, float], Any] | None,
        heap_slack_mb: float | None,
    ) -> None:
        if not predictors:
            raise ValueError("a batch needs a predictor")
        self.jobs = list(jobs)
        self.lanes = len(predictors)
        free: queue.Queue = queue.Queue()
        for predictor in predictors:
            free.put(predictor)

        self._asks: queue.Queue[tuple[PhotoJob, list[bool], threading.Event]] = queue.Queue()
        self._start, self._closed = start, threading.Event()

        def work(job: PhotoJob) -> PhotoResult:  # on a lane's thread
            if hold is not None:
                hold(job)
            if start is not None and not self._ask(job):
                return PhotoResult(job, NOT_STARTED)
            predictor = free.get()
            try:
                return process_photo(job, predictor, write, max_megapixels, checked, ledger)
            finally:
                free.put(predictor)

        # each lane's buffers swell the heap: trimming at the default 192 MB slack ran every
        # few photos with two lanes and cost a fifth of the batch's speed (benchmarks/pipeline.py)
        self.heap = HeapKeeper(slack_mb=heap_slack_mb or 384 * self.lanes)
        self.writes = WriteBehind()
        self._lanes = Lanes(
            self.jobs,
            work,
            lanes=self.lanes,
            ahead=2 * self.lanes,
            patience=patience,
            stalled=None if stalled is None else (lambda job, s: stalled(job.photo, s)),
            poll=None if start is None else self._answer,
        )

    def _ask(self, job: PhotoJob) -> bool:
        """On a lane: whether the photo may start, as `start` says on the batch's thread."""
        answer, told = [False], threading.Event()
        self._asks.put((job, answer, told))
        while not told.wait(0.1):
            if self._closed.is_set():
                return False
        return answer[0]

    def _answer(self) -> None:
        """On the batch's thread: `start` for each photo a lane is about to start."""
        while True:
            try:
                job, answer, told = self._asks.get_nowait()
            except queue.Empty:
                return
            try:
                answer[0] = bool(self._start(job)) if self._start is not None else True
            finally:
                told.set()

    def _result(self, item: ReadResult) -> PhotoResult:
        self.heap.after_photo()  # a long batch's memory stays flat
        if item.error is not None:  # a fault outside the photo's own errors
            return PhotoResult(item.source, FAILED, error=item.error)
        assert isinstance(item.value, PhotoResult)
        return item.value

    def __iter__(self) -> Iterator[PhotoResult]:
        for item in self._lanes:
            self.writes.poll()
            self._answer()
            yield self._result(item)

    def behind(self, step: Callable[[], Any], then: Callable[[Any], Any]) -> None:
        """Run `step` after the photos handed over before it, on the write-behind thread;
        `then(its value)` on the batch's thread once it is over (errors are raised there)."""
        self.writes.submit(step, lambda future: then(future.result()))

    def stop(self) -> list[PhotoResult]:
        """Start nothing more; the results of the photos in progress, once they finish."""
        return [self._result(item) for item in self._lanes.stop()]

    def close(self) -> None:
        """Wait for what runs behind the photos (every `then` called)."""
        self._closed.set()
        self.writes.close()


def run_batch(
    jobs: Iterable[PhotoJob],
    predictors: Sequence[Any],
    write: Write,
    *,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    checked: bool = False,
    ledger: bool = False,
    hold: Callable[[PhotoJob], Any] | None = None,
    start: Callable[[PhotoJob], bool] | None = None,
    patience: float = 60.0,
    stalled: Callable[[Path, float], Any] | None = None,
    heap_slack_mb: float | None = None,
) -> PhotoBatch:
    """The batch's photos, a photo per predictor at once (the lanes), each through
    `process_photo`. Before a photo starts, `hold(job)` on its lane may wait (a pause), then
    `start(job)`, on the batch's thread (the one iterating), may say no (a cancel: NOT_STARTED)
    or tell that it starts, as a photo at a time would. While the next result has not come for
    `patience` seconds, `stalled(photo, seconds)` says so. The caller iterates the batch, and
    calls `close()` after it (or `stop()` then `close()` to stop it early)."""
    return PhotoBatch(
        list(jobs),
        predictors,
        write,
        max_megapixels,
        checked,
        ledger,
        hold,
        start,
        patience,
        stalled,
        heap_slack_mb,
    )


@contextlib.contextmanager
def finish_before_stopping():
    """Hold a stop back while one photo's outputs are written, then stop: Ctrl-C (SIGINT) and a
    service manager's SIGTERM alike. A signal that came meanwhile is raised again once the
    handlers are back, so it does what it did before (Ctrl-C's KeyboardInterrupt, `carmask
    watch`'s stop, or the default end of the process), only after the write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda s, frame: asked.append(s)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for came in dict.fromkeys(signal.Signals(n) for n in asked):  # each once, in order
        if came == signal.SIGINT and previous[came] is signal.default_int_handler:
            raise KeyboardInterrupt
        signal.raise_signal(came)
