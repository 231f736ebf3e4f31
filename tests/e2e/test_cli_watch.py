"""`carmask watch` end to end: a real process watching a real folder, stopped and started again."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cutout_checks import assert_cutout_of
from PIL import Image

from engine.batch.manifest import MANIFEST_FILE, file_digest
from engine.io import read_mask, read_rgb

pytest.importorskip("watchdog")

from factories import copy_in_chunks

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "cpu-lite0-256x384.safetensors"


class Watch:
    """`carmask watch` in a child process, its output in a file."""

    def __init__(self, inbox: Path, out: Path, log: Path):
        self.log = log
        cmd = [sys.executable, "-m", "engine.cli", "watch", str(inbox), "--out", str(out)]
        cmd += ["--model", str(MODEL), "--device", "cpu", "--settle", "0.5"]
        cmd += ["--format", "png", "--format", "mask"]
        self.child = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)
        self.wait_until(lambda: "watching" in self.text, "the watch to start")

    @property
    def text(self) -> str:
        return self.log.read_text()

    def wait_until(self, ready, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.child.poll() is None, f"carmask watch ended: {self.text}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.text}"
            time.sleep(0.05)

    def stop(self) -> str:
        self.child.send_signal(signal.SIGINT)
        assert self.child.wait(30) == 0
        return self.text


def _entries(out: Path) -> list[dict]:
    path = out / MANIFEST_FILE
    lines = [json.loads(t) for t in path.read_text().splitlines()] if path.exists() else []
    return [e for e in lines if "status" in e]  # the photo lines (not the files, nor claims)


def test_watch_cuts_out_complete_files_once_across_a_restart(tmp_path, carvana):
    photos = sorted((carvana / "val").glob("*.jpg"))[:3]
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    watch = Watch(inbox, out, tmp_path / "first.log")
    copy_in_chunks(photos[0], inbox / "a.jpg", chunks=8, pause=0.2)  # slower than it settles
    shutil.copy(photos[1], inbox / "b.jpg")
    watch.wait_until(lambda: len(_entries(out)) >= 2, "two photos")
    time.sleep(1.5)  # a chance to do one twice
    text = watch.stop()
    assert "stopped: done: 2, failed: 0, already done: 0" in text
    first = _entries(out)
    assert [Path(e["photo"]).name for e in first] == ["a.jpg", "b.jpg"]  # in arrival order
    for e, src in zip(first, photos, strict=False):
        assert e["status"] == "done" and e["digest"] == file_digest(src)  # the complete file
    for stem in ("a", "b"):
        mask = read_mask(out / f"{stem}_mask.png")
        assert 0.05 < mask.mean() < 0.95
        rgba = np.asarray(Image.open(out / f"{stem}.png"))
        assert_cutout_of(rgba, read_rgb(inbox / f"{stem}.jpg"), mask)
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*.png")}

    shutil.copy(photos[2], inbox / "c.jpg")  # arrives while nothing watches
    raw = photos[2].read_bytes()
    (inbox / "broken.jpg").write_bytes(raw[: len(raw) // 3])
    watch = Watch(inbox, out, tmp_path / "second.log")
    watch.wait_until(lambda: len(_entries(out)) >= 4, "the new photos")
    time.sleep(1.5)
    text = watch.stop()
    assert "stopped: done: 1, failed: 1, already done: 2" in text
    assert "broken.jpg: truncated or corrupt image data" in text
    entries = _entries(out)
    assert len(entries) == 4  # a and b were not done again
    assert sorted(Path(e["photo"]).name for e in entries[2:]) == ["broken.jpg", "c.jpg"]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert (out / "c.png").exists() and (out / "c_mask.png").exists()


def test_watch_says_when_its_folder_goes_and_cuts_out_photos_once_it_is_back(tmp_path, carvana):
    photo = sorted((carvana / "val").glob("*.jpg"))[0]
    inbox, out = tmp_path / "card", tmp_path / "out"
    inbox.mkdir()
    watch = Watch(inbox, out, tmp_path / "watch.log")
    shutil.rmtree(inbox)  # the card reader unplugged
    watch.wait_until(lambda: "the folder is gone" in watch.text, "the folder's absence said")
    inbox.mkdir()  # plugged in again
    watch.wait_until(lambda: "there again" in watch.text, "the folder's return said")
    shutil.copy(photo, inbox / "a.jpg")
    watch.wait_until(lambda: (out / "a_mask.png").exists(), "the photo in the new folder")
    assert "stopped: done: 1, failed: 0" in watch.stop()


def test_watch_refuses_to_write_into_the_folder_it_watches(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cmd = [sys.executable, "-m", "engine.cli", "watch", str(inbox), "--out", str(inbox / ".")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode != 0
    assert "is the watched folder" in done.stderr and str(inbox) in done.stderr


def test_watch_refuses_a_size_limit_that_would_switch_the_guard_off(tmp_path):
    cmd = [sys.executable, "-m", "engine.cli", "watch", str(tmp_path), "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [*cmd, "--max-megapixels", "nan"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 2
    assert "--max-megapixels: must be a number of megapixels above 0, not 'nan'" in done.stderr
