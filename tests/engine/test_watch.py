"""The hot folder's watcher on a real folder with real watchdog events: files copied in slowly
are handed on only once complete, in arrival order, each once."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("watchdog")

from factories import copy_in_chunks

from engine.batch.watch import FolderWatcher

SETTLE = 0.6


class Handed:
    def __init__(self):
        self.calls: list[tuple[Path, bytes, float]] = []
        self.lock = threading.Lock()

    def __call__(self, path: Path) -> None:
        with self.lock:
            self.calls.append((path, path.read_bytes(), time.monotonic()))

    def wait_for(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.calls) >= n, f"{len(self.calls)} of {n} handed on"

    @property
    def names(self) -> list[str]:
        return [p.name for p, _, _ in self.calls]


def test_slow_copies_are_handed_on_once_complete_in_arrival_order(tmp_path, carvana):
    photos = sorted((carvana / "val").glob("*.jpg"))[:3]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    handed = Handed()
    with FolderWatcher(inbox, handed, settle_s=SETTLE, poll_s=0.05):
        finished_a = copy_in_chunks(photos[0], inbox / "a.jpg")
        copy_in_chunks(photos[1], inbox / "b.jpg")
        (inbox / "notes.txt").write_text("not a photo")
        (inbox / ".cm-123-x.tmp").write_bytes(b"a temp file")
        sub = inbox / "day2"
        sub.mkdir()
        shutil.copy(photos[2], sub / "c.jpg")
        handed.wait_for(3)
        time.sleep(3 * SETTLE)  # nothing more comes
    assert handed.names == ["a.jpg", "b.jpg", "c.jpg"]
    for (path, data, _when), src in zip(handed.calls, photos, strict=True):
        assert data == src.read_bytes(), f"{path.name} was handed on before it was complete"
    assert handed.calls[0][2] >= finished_a + SETTLE * 0.9  # not before it had settled


def test_a_file_is_not_handed_on_while_it_grows(tmp_path, carvana):
    photo = sorted((carvana / "val").glob("*.jpg"))[0]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    handed = Handed()
    with FolderWatcher(inbox, handed, settle_s=SETTLE, poll_s=0.05):
        # a stalled copy: each pause is shorter than the settle time, the whole copy far longer
        copy_in_chunks(photo, inbox / "slow.jpg", chunks=10, pause=SETTLE / 2)
        assert handed.calls == []
        handed.wait_for(1)
    assert handed.calls[0][1] == photo.read_bytes()


def test_files_there_before_the_start_and_changed_files(tmp_path, carvana):
    photos = sorted((carvana / "val").glob("*.jpg"))[:2]
    inbox, out = tmp_path / "inbox", tmp_path / "inbox" / "out"
    out.mkdir(parents=True)
    shutil.copy(photos[0], inbox / "old.jpg")
    shutil.copy(photos[0], out / "old.png")  # the outputs folder inside: left alone
    handed = Handed()
    with FolderWatcher(inbox, handed, settle_s=SETTLE, poll_s=0.05, ignore=[out]) as watcher:
        handed.wait_for(1)
        time.sleep(2 * SETTLE)
        assert handed.names == ["old.jpg"]  # once, though the observer saw it too
        shutil.copy(photos[1], inbox / "old.jpg")  # replaced by another photo: handed on again
        handed.wait_for(2)
        time.sleep(2 * SETTLE)
        assert watcher.waiting == 0
    assert handed.names == ["old.jpg", "old.jpg"]
    assert handed.calls[1][1] == photos[1].read_bytes()


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        FolderWatcher(tmp_path / "nowhere", print).start()


class Said(list):
    def __call__(self, message: str) -> None:
        self.append(message)

    def wait_for(self, words: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(words in m for m in self) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(words in m for m in self), f"never said {words!r}: {list(self)}"


def test_a_folder_removed_and_recreated_is_said_and_watched_again(tmp_path, carvana):
    photos = sorted((carvana / "val").glob("*.jpg"))[:2]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    handed, said = Handed(), Said()
    with FolderWatcher(inbox, handed, settle_s=SETTLE, poll_s=0.05, on_status=said):
        shutil.rmtree(inbox)  # the card reader unplugged
        said.wait_for("the folder is gone")
        inbox.mkdir()  # and plugged in again
        said.wait_for("there again")
        shutil.copy(photos[0], inbox / "a.jpg")
        handed.wait_for(1)
        inbox.rename(tmp_path / "elsewhere")  # renamed away, another folder made in its place
        inbox.mkdir()
        shutil.copy(photos[1], inbox / "b.jpg")
        handed.wait_for(2)
    assert handed.names == ["a.jpg", "b.jpg"]
    assert handed.calls[1][0] == inbox.absolute() / "b.jpg"


def test_a_folder_gone_for_long_is_said_again(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    said = Said()
    with FolderWatcher(inbox, print, poll_s=0.05, on_status=said, remind_s=0.3):
        inbox.rmdir()
        said.wait_for("still gone")


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_stop_asked_while_a_photo_is_written_still_counts_that_photo(
    tmp_path, carvana, trained_model, stop
):
    """Ctrl-C (SIGINT) or a service manager's stop (SIGTERM, which `carmask watch` turns into
    the same stop) during the write is held back until the photo's outputs and ledger line are
    in; the summary then counts it (it said "done: 0" for a cutout it had written, and a
    SIGTERM could cut the ledger line off, so the photo was done again on the next run)."""
    import os
    import signal

    from engine.batch.manifest import Manifest
    from engine.cli.common import predict_config
    from engine.cli.parser import build_parser
    from engine.cli.watch import HotFolder, _interrupt
    from engine.inference.predict import Predictor

    photo = sorted((carvana / "val").glob("*.jpg"))[0]
    out = tmp_path / "out"
    args = build_parser().parse_args(
        ["watch", str(tmp_path), "--out", str(out), "--model", str(trained_model)]
    )
    config = predict_config(args)
    hot = HotFolder(out, Predictor.from_config(config), config, args)
    write = hot.export

    def stop_while_writing(*a):
        os.kill(os.getpid(), getattr(signal, stop))  # the stop, in the middle of the write
        return write(*a)

    hot.export = stop_while_writing
    previous = signal.signal(signal.SIGTERM, _interrupt)  # as `carmask watch` runs
    try:
        with pytest.raises(KeyboardInterrupt):
            hot.process(photo)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert hot.done == 1
    assert (out / f"{photo.stem}.png").exists()
    assert Manifest(out).done_outputs()  # its ledger line is in
