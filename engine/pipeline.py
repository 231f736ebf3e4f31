"""A batch's three stages overlapped: read the next photo and write the last one's outputs while
the current one is segmented.

Decoding a 1918×1280 JPEG and encoding its PNG outputs run mostly outside the GIL (libjpeg,
zlib), while the networks keep the cores busy only part of the time, so on 2 cores the
overlap gains a third in photos per second (benchmarks/pipeline.py). Results come back in the
photos' order, each on the thread that drives the batch: `read_ahead` yields what a reader
thread read, `WriteBehind` hands each finished write to its `then` callback. At most `depth`
photos wait on either side, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
