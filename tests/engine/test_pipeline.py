"""engine.inference.pipeline: read ahead and write behind keep the photos' order and lose
nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.inference.pipeline import Lanes, WriteBehind, read_ahead
from engine.io import ImageReadError, read_rgb

PHOTOS = sorted((Path(__file__).parents[1] / "data" / "carvana" / "val").glob("*.jpg"))


def test_read_ahead_gives_every_photo_in_order_with_the_bad_one_in_its_place(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    sources = [*PHOTOS[:3], broken, *PHOTOS[3:5]]
    items = list(read_ahead(sources, read_rgb))
    assert [i.source for i in items] == sources
    bad = items[3]
    assert bad.value is None and isinstance(bad.error, ImageReadError)
    assert bad.error.path == broken
    for item, path in zip(items, sources, strict=True):
        if path != broken:
            assert item.error is None and np.array_equal(item.value, read_rgb(path))


def test_read_ahead_reads_at_most_depth_ahead_and_stops_when_closed():
    read: list[int] = []

    def slow_read(i: int) -> int:
        read.append(i)
        return i

    reads = read_ahead(range(100), slow_read, depth=2)
    assert next(reads).value == 0
    time.sleep(0.3)
    assert len(read) <= 4  # the one handed over, two waiting, one held by the reader
    reads.close()
    time.sleep(0.2)
    assert len(read) <= 4
    assert not any(t.name == "carmask-read" for t in threading.enumerate())


def test_write_behind_hands_back_in_order_and_drain_waits_for_every_write(tmp_path):
    handed: list[int] = []
    writer_threads: set[str] = set()

    def write(i: int):
        def run():
            writer_threads.add(threading.current_thread().name)
            time.sleep(0.02 * (5 - i))  # later writes are quicker: order must still hold
            (tmp_path / f"{i}.txt").write_text(str(i))
            if i == 2:
                raise OSError("disk full")
            return i

        return run

    failures: list[str] = []

    def then(future):
        try:
            handed.append(future.result())
        except OSError as exc:
            failures.append(str(exc))

    with WriteBehind(depth=2) as writes:
        for i in range(5):
            writes.submit(write(i), then)
        writes.drain()
        assert handed == [0, 1, 3, 4] and failures == ["disk full"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.txt" for i in range(5)]
    assert len(writer_threads) == 1 and threading.current_thread().name not in writer_threads


def test_write_behind_never_holds_more_than_depth_writes():
    gate = threading.Event()
    writes = WriteBehind(depth=2)
    for _ in range(2):
        writes.submit(gate.wait, lambda f: None)
    blocked = threading.Thread(target=writes.submit, args=(lambda: None, lambda f: None))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # a third write waits for room
    gate.set()
    blocked.join(5)
    assert not blocked.is_alive()
    writes.close()


@pytest.mark.parametrize("depth", [1, 3])
def test_poll_hands_back_only_finished_writes(depth):
    gate = threading.Event()
    handed: list[str] = []
    with WriteBehind(depth=depth) as writes:
        writes.submit(lambda: "quick", lambda f: handed.append(f.result()))
        time.sleep(0.1)
        writes.poll()
        assert handed == ["quick"]
        writes.submit(lambda: gate.wait() and "slow", lambda f: handed.append(f.result()))
        writes.poll()
        assert handed == ["quick"]
        gate.set()
    assert handed == ["quick", "slow"]


def test_lanes_run_photos_at_once_and_give_them_back_in_order(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    sources = [*PHOTOS[:3], broken, *PHOTOS[3:6]]
    running, most, lock = [0], [0], threading.Lock()

    def work(path):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)
            return read_rgb(path).shape
        finally:
            with lock:
                running[0] -= 1

    items = list(Lanes(sources, work, lanes=2))
    assert [i.source for i in items] == sources and most[0] == 2
    assert isinstance(items[3].error, ImageReadError) and items[3].value is None
    assert all(i.value == read_rgb(i.source).shape for i in items if i.source != broken)


def test_lanes_stop_finishes_the_running_photos_and_starts_no_more():
    started: list[int] = []
    gate = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        gate.wait(5)
        return i

    lanes = Lanes(range(20), work, lanes=2, ahead=1)
    time.sleep(0.2)
    threading.Timer(0.2, gate.set).start()
    finished = lanes.stop()
    assert sorted(i.value for i in finished) == sorted(started) == [0, 1]
    assert not any(t.name.startswith("carmask-lane") for t in threading.enumerate())


def test_lanes_name_the_photo_they_wait_on_while_none_finishes_then_go_on():
    """The batch's bounded wait: while no result comes for `patience` seconds, `stalled` hears
    which source holds it up, again each period; when it finishes, every result comes."""
    gate = threading.Event()
    said: list[tuple[int, float]] = []

    def work(i: int) -> int:
        if i == 0:
            gate.wait(5)  # a photo stuck for a while
        return i

    def stalled(source: int, seconds: float) -> None:
        said.append((source, seconds))
        if len(said) == 2:
            gate.set()

    items = list(Lanes(range(4), work, lanes=2, patience=0.05, stalled=stalled))
    assert [i.value for i in items] == [0, 1, 2, 3]
    assert [source for source, _ in said] == [0, 0]
    assert 0.05 <= said[0][1] < said[1][1]


def test_lanes_stopped_by_ctrl_c_still_name_a_photo_that_does_not_finish():
    gate = threading.Event()
    said: list[int] = []

    def stalled(source: int, seconds: float) -> None:
        said.append(source)
        gate.set()

    lanes = Lanes(range(5), lambda i: gate.wait(5) and i, lanes=2, patience=0.05, stalled=stalled)
    time.sleep(0.1)
    finished = lanes.stop()
    assert sorted(i.value for i in finished) == [0, 1] and said == [0]
