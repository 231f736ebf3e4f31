"""`carmask predict --ray` on a real local Ray instance (2 CPUs) with real photos.

One Ray instance serves the module (starting one takes seconds); the photos are few and small.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.batch.manifest import MANIFEST_FILE
from engine.cli import main
from engine.io import read_mask

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "cpu-lite0-256x384.safetensors"
FULLSIZE = ROOT / "tests" / "data" / "fullsize"


@pytest.fixture(scope="module")
def ray_address():
    ray.init(
        num_cpus=2,
        object_store_memory=400 * 1024**2,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _args(inputs, out, *more) -> list[str]:
    return [
        "predict",
        str(inputs),
        "--out",
        str(out),
        "--model",
        str(MODEL),
        "--device",
        "cpu",
        "--format",
        "png",
        "--format",
        "mask",
        "-q",
        *more,
    ]


def _counts(text: str) -> dict[str, int]:
    line = next(t for t in text.splitlines() if t.startswith("done: "))
    return {k: int(v) for k, v in re.findall(r"([a-z][a-z ]*): (\d+)", line)}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


@pytest.fixture
def shoot(tmp_path, carvana) -> Path:
    """Six real photos in two folders, and one broken photo among them."""
    src = tmp_path / "shoot"
    (src / "day2").mkdir(parents=True)
    photos = sorted((carvana / "val").glob("*.jpg"))[:6]
    for i, p in enumerate(photos):
        shutil.copy(p, (src if i < 4 else src / "day2") / p.name)
    raw = photos[0].read_bytes()
    (src / "day2" / "broken.jpg").write_bytes(raw[: len(raw) // 3])
    return src


def test_ray_writes_the_local_cli_files_byte_for_byte(ray_address, shoot, tmp_path, capsys):
    assert main(_args(shoot, tmp_path / "local")) == 1
    local_text = capsys.readouterr().out
    assert main(_args(shoot, tmp_path / "ray", "--ray")) == 1  # the broken photo failed
    text = capsys.readouterr().out
    assert _counts(text)["done"] == 6 and _counts(text)["failed"] == 1
    assert _counts(local_text)["done"] == 6
    assert re.search(r"failed: .*broken\.jpg: truncated or corrupt image data", text)
    local = {p.name for p in (tmp_path / "local").iterdir() if not p.name.startswith(".")}
    ray_files = {p.name for p in (tmp_path / "ray").iterdir() if not p.name.startswith(".")}
    assert local == ray_files and len(local) == 12  # the same names (png + mask per photo)
    for name in sorted(local):
        a, b = tmp_path / "local" / name, tmp_path / "ray" / name
        assert a.read_bytes() == b.read_bytes(), name
        if name.endswith("_mask.png"):
            ma, mb = read_mask(a), read_mask(b)
            assert _dice(ma, mb) == 1.0 and 0.05 < ma.mean() < 0.95
    lines = [json.loads(t) for t in (tmp_path / "ray" / MANIFEST_FILE).read_text().splitlines()]
    lines = [e for e in lines if "status" in e]  # the photo lines (not the files, nor claims)
    assert sorted(e["status"] for e in lines) == ["done"] * 6 + ["failed"]
    broken = next(e for e in lines if e["status"] == "failed")
    assert broken["photo"].endswith("broken.jpg") and "truncated" in broken["reason"]
    assert not list((tmp_path / "ray").glob(".cm-*"))  # no temp files left


def test_a_killed_run_is_finished_by_a_rerun_without_redoing_its_photos(
    ray_address, tmp_path, capsys
):
    """The driver is killed (SIGKILL) halfway; the rerun does the rest, and only the rest."""
    src = tmp_path / "big"
    src.mkdir()
    for i in range(2):  # 8 full-size photos (1918×1280): about a second each here
        for p in sorted(FULLSIZE.glob("*.jpg")):
            shutil.copy(p, src / f"{p.stem}_{i}.jpg")
    out = tmp_path / "out"
    manifest = out / MANIFEST_FILE
    # one photo per task: the manifest grows photo by photo, to be killed in the middle
    first_run = _args(src, out, "--ray", ray_address, "--photos-per-task", "1")
    cmd = [sys.executable, "-m", "engine.cli", *first_run]
    child = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=os.environ
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if manifest.exists() and len(_photo_lines(manifest)) >= 2:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the first run ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    first = _photo_lines(manifest)
    assert 2 <= len(first) < 8
    kept = {
        out / name: (out / name).stat().st_mtime_ns for e in first for name in e["outputs"].values()
    }
    assert len(kept) == 2 * len(first)

    assert main(_args(src, out, "--ray", ray_address)) == 0
    counts = _counts(capsys.readouterr().out)
    assert counts["already done"] == len(first)
    assert counts["done"] == 8 - len(first)  # only the photos the first run did not finish
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # done photos were not rewritten
    assert len(list(out.glob("*_mask.png"))) == 8 and len(list(out.glob("*.png"))) == 16

    assert main(_args(src, out, "--ray", ray_address)) == 0  # all done: nothing is redone
    counts = _counts(capsys.readouterr().out)
    assert counts["done"] == 0 and counts["already done"] == 8


def test_a_changed_photo_or_a_lost_output_is_done_again(ray_address, shoot, tmp_path, capsys):
    out = tmp_path / "out"
    main(_args(shoot, out, "--ray"))
    capsys.readouterr()
    photos = sorted(shoot.glob("*.jpg"))
    (out / f"{photos[0].stem}_mask.png").unlink()  # an output lost
    shutil.copy(photos[2], photos[1])  # a photo replaced by another
    (shoot / "day2" / "broken.jpg").unlink()  # the broken one removed
    assert main(_args(shoot, out, "--ray")) == 0
    counts = _counts(capsys.readouterr().out)
    assert counts["done"] == 2 and counts["already done"] == 4


def test_photos_from_a_uri_are_read_through_pyarrow(ray_address, shoot, tmp_path, capsys):
    """s3:// and gs:// go through pyarrow's filesystems; file:// takes the same code path here
    (no bucket is reachable in the tests), and gives the local CLI's files."""
    (shoot / "notes.txt").write_text("not a photo")
    assert main(_args(shoot, tmp_path / "local")) == 1
    capsys.readouterr()
    assert main(_args(f"file://{shoot}", tmp_path / "uri", "--ray")) == 1
    text = capsys.readouterr().out
    assert _counts(text)["done"] == 6 and _counts(text)["failed"] == 1
    assert f"failed: file://{shoot}/day2/broken.jpg: truncated or corrupt image data" in text
    assert f"skipped: file://{shoot}/notes.txt: not a supported image type (.txt)" in text
    local = _files(tmp_path / "local")
    assert local == _files(tmp_path / "uri") and len(local) == 12
    entries = [json.loads(t) for t in (tmp_path / "uri" / MANIFEST_FILE).read_text().splitlines()]
    entries = [e for e in entries if "status" in e]  # the photo lines
    assert all(e["photo"].startswith(f"file://{shoot}/") for e in entries)


def test_cuda_asked_of_a_cluster_without_gpus_is_refused(ray_address, shoot, tmp_path):
    args = _args(shoot, tmp_path / "out", "--ray")
    args[args.index("cpu")] = "cuda"
    with pytest.raises(SystemExit, match="the Ray cluster has no GPU"):
        main(args)
    assert not (tmp_path / "out").exists()  # nothing written


def test_an_output_uri_is_refused_with_the_reason(tmp_path):
    with pytest.raises(SystemExit, match="a folder every node sees"):
        main(_args(tmp_path, "s3://bucket/cutouts", "--ray"))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def test_ray_is_asked_for_by_name_when_missing(tmp_path):
    """Without Ray, --ray says how to install it (a child without ray on its path)."""
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from engine.cli import main\n"
        f"sys.exit(main(['predict', {str(tmp_path)!r}, '--out', {str(tmp_path / 'o')!r}, "
        "'--ray']))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0
    assert "pip install carmask-studio[cluster]" in r.stderr


def _photo_lines(ledger: Path) -> list[dict]:
    """The photo lines of the folder's ledger (`engine.batch.manifest`), not its files nor its
    claims; a line still being written is left for the next look."""
    text = ledger.read_text()
    lines = [json.loads(t) for t in text[: text.rfind("\n") + 1].splitlines()]
    return [e for e in lines if "status" in e]
