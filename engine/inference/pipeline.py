"""A batch's three stages overlapped: read the next photo and write the last one's outputs while
the current one is segmented.

Decoding a 1918×1280 JPEG and encoding its PNG outputs run mostly outside the GIL (libjpeg,
zlib), while the networks keep the cores busy only part of the time, so on 2 cores the
overlap gains a third in photos per second (benchmarks/pipeline.py). Results come back in the
photos' order, each on the thread that drives the batch: `read_ahead` yields what a reader
thread read, `WriteBehind` hands each finished write to its `then` callback. At most `depth`
photos wait on either side, so memory stays bounded.

`Lanes` goes further on the CPU: two photos at once, each read, segmented (by its own
`Predictor`, on half the threads) and written on its own thread. On 2 cores that gives 1.4x the
photos per second of one photo at a time on both threads, where overlapping only the writes
gives 1.14x, because the networks' parallel regions lose more to a busy core than the overlap
wins (benchmarks/pipeline.py).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Generic, TypeVar

S = TypeVar("S")  # a photo (its path or a job)
V = TypeVar("V")  # what reading it gives

_END = object()


class ReadResult(Generic[S, V]):
    __slots__ = ("error", "source", "value")

    def __init__(self, source: S, value: V | None, error: BaseException | None):
        self.source, self.value, self.error = source, value, error


def read_ahead(
    sources: Iterable[S], read: Callable[[S], V], depth: int = 2
) -> Generator[ReadResult[S, V], None, None]:
    """Each source's `read` result (or the exception it raised), in order, read on a thread up
    to `depth` photos ahead. Closing the iterator (a cancelled batch, Ctrl-C) stops the reader."""
    results: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        for source in sources:
            if stop.is_set():
                return
            try:
                item = ReadResult(source, read(source), None)
            except Exception as exc:  # the consumer decides: a bad photo, or a real fault
                item = ReadResult(source, None, exc)
            if not put(item):
                return
        put(_END)

    thread = threading.Thread(target=reader, name="carmask-read", daemon=True)
    thread.start()
    try:
        while (item := results.get()) is not _END:
            yield item
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """Runs writes on one thread, in the order given; `then(future)` runs on the submitting
    thread once a write is over (`future.result()` returns or raises what the write did).
    `drain()` waits for every write: after it, all the photos handed over are complete."""

    def __init__(self, depth: int = 2):
        self.depth = max(1, depth)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="carmask-write")
        self._pending: deque[tuple[Future, Callable[[Future], Any]]] = deque()

    def submit(self, write: Callable[[], Any], then: Callable[[Future], Any]) -> None:
        self._pending.append((self._pool.submit(write), then))
        self._collect(self.depth)

    def poll(self) -> None:
        """Hand over the writes already finished, without waiting."""
        self._collect(len(self._pending))

    def drain(self) -> None:
        self._collect(0)

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)

    def _collect(self, keep: int) -> None:
        """Hand over finished writes in order, waiting while more than `keep` are pending."""
        while self._pending:
            future, then = self._pending[0]
            if not future.done() and len(self._pending) <= keep:
                return
            future.exception()  # waits for it
            self._pending.popleft()
            then(future)

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Lanes(Generic[S, V]):
    """`work(source)` for each source on `lanes` threads at once, results in the sources' order
    (`ReadResult`: the value, or the exception `work` raised). At most `lanes + ahead` sources
    are taken on. `stop()` (Ctrl-C) starts nothing more, waits for the work already running and
    returns its results, so nothing half-done is left behind.

    Waits are bounded: while the next result has not come for `patience` seconds,
    `stalled(source, seconds)` is called (then again every `patience` seconds), so a batch that
    makes no progress says so instead of sitting silent. `poll()` is called on the waiting thread
    every `poll_s` seconds while it waits (what the lanes ask of that thread)."""

    def __init__(
        self,
        sources: Iterable[S],
        work: Callable[[S], V],
        lanes: int = 2,
        ahead: int = 1,
        patience: float = 60.0,
        stalled: Callable[[S, float], Any] | None = None,
        poll: Callable[[], Any] | None = None,
        poll_s: float = 0.01,
    ):
        self._sources = iter(sources)
        self._work = work
        self._patience = max(0.001, patience)
        self._stalled = stalled
        self._poll, self._poll_s = poll, max(0.001, poll_s)
        self._pool = ThreadPoolExecutor(max(1, lanes), thread_name_prefix="carmask-lane")
        self._pending: deque[tuple[S, Future]] = deque()
        for _ in range(max(1, lanes) + max(0, ahead)):
            self._take()

    def _take(self) -> None:
        for source in itertools.islice(self._sources, 1):
            self._pending.append((source, self._pool.submit(self._work, source)))

    @staticmethod
    def _result(source: S, future: Future) -> ReadResult[S, V]:
        error = future.exception()
        return ReadResult(source, None if error else future.result(), error)

    def _wait(self, source: S, future: Future) -> None:
        """Wait for `future`, telling `stalled` each time `patience` seconds pass without it
        (and calling `poll`, on this thread, every `poll_s` seconds meanwhile)."""
        since = told = time.monotonic()
        step = self._patience if self._poll is None else min(self._patience, self._poll_s)
        while True:
            try:
                future.exception(timeout=step)
                return
            except FutureTimeout:
                if self._poll is not None:
                    self._poll()
                now = time.monotonic()
                if now - told >= self._patience - 1e-6:
                    told = now
                    if self._stalled is not None:
                        self._stalled(source, now - since)

    def __iter__(self) -> Iterator[ReadResult[S, V]]:
        while self._pending:
            source, future = self._pending[0]
            self._wait(source, future)
            item = self._result(source, future)
            self._pending.popleft()
            self._take()
            yield item
        self._pool.shutdown(wait=True)

    def stop(self) -> list[ReadResult[S, V]]:
        running = []
        for source, future in self._pending:
            if not future.cancel():  # already running (or done): it finishes
                running.append((source, future))
        self._pending.clear()
        results = []
        for source, future in running:
            self._wait(source, future)  # a photo that never finishes is still named
            results.append(self._result(source, future))
        self._pool.shutdown(wait=True)
        return results
