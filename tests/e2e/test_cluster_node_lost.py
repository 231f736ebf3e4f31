"""`carmask predict --ray` when a node of the cluster is lost mid-batch: a real two-node Ray
cluster on this machine (`ray.cluster_utils.Cluster`, one CPU per node), the real CLI as the
driver, real photos; the worker node is killed while the batch runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.batch.manifest import MANIFEST_FILE, file_digest
from engine.batch.outputs import MANIFEST_NAME
from engine.cluster.run import plan_resources, task_cpus
from engine.cluster.stages import OK, JobSpec, export_stage
from engine.io import read_mask

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "cpu-lite0-256x384.safetensors"
PHOTOS = 16
BATCH_LIMIT_S = 180  # a batch that has not ended by then hangs


def test_one_cpu_nodes_leave_room_for_reading_beside_the_model():
    """On 1-CPU nodes an actor asked for half a CPU and a read needed a whole one: no node
    could ever run a read, and the batch hung before its first photo."""
    actors, cpus, _ = plan_resources({"CPU": 2}, [1, 1], None, None, "auto")
    assert actors == 2 and cpus + task_cpus([1, 1]) <= 1
    assert task_cpus([2, 16]) == 1.0  # larger nodes: a whole CPU per read, as before
    assert plan_resources({"CPU": 2}, [2], None, None, "auto") == (1, 1.0, 0.0)


def test_an_export_run_again_leaves_its_own_identical_files_as_they_are(tmp_path, carvana):
    """Ray runs a task again when its node is lost after it wrote: the photo's files are
    written once (same bytes: not replaced, one line each in the output record)."""
    from engine.io import read_photo

    photo = sorted((carvana / "val").glob("*.jpg"))[0]
    rgb = read_photo(photo).rgb
    mask = np.zeros(rgb.shape[:2], bool)
    mask[50:200, 100:300] = True
    out = tmp_path / "out"
    outputs = {"png": str(out / f"{photo.stem}.png"), "mask": str(out / f"{photo.stem}_mask.png")}
    row = {
        "photo": str(photo),
        "outputs": json.dumps(outputs),
        "status": OK,
        "rgb": rgb.tobytes(),
        "height": rgb.shape[0],
        "width": rgb.shape[1],
        "alpha": b"",
        "mask": (mask.astype(np.uint8) * 255).tobytes(),  # the soft alpha, as Segment sends
        "seconds": 0.1,
    }
    spec = JobSpec(str(out), ("png", "mask"), (255, 255, 255), 100.0, (str(MODEL),))
    assert export_stage(row, spec)["status"] == OK
    first = {p: Path(p).stat().st_mtime_ns for p in outputs.values()}
    time.sleep(0.01)
    assert export_stage(row, spec)["status"] == OK  # the retry
    assert {p: Path(p).stat().st_mtime_ns for p in outputs.values()} == first
    names = [e["name"] for e in _lines(out / MANIFEST_NAME) if "name" in e]  # the files
    assert sorted(names) == sorted(Path(p).name for p in outputs.values())


@pytest.fixture
def two_nodes(monkeypatch):
    """A head and a worker node of one CPU each, both running this worktree's code."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the nodes' workers import engine from here
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    store = 150 * 1024**2
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": store, "include_dashboard": False},
    )
    worker = cluster.add_node(num_cpus=1, object_store_memory=store)
    cluster.wait_for_nodes()
    try:
        yield cluster, worker
    finally:
        cluster.shutdown()


@pytest.mark.heavy  # 80-100 s on 2 shared cores: Ray's start, two nodes, one lost
def test_a_node_lost_mid_batch_leaves_every_photo_written_once_and_recorded_true(
    two_nodes, tmp_path, carvana
):
    cluster, worker = two_nodes
    src = tmp_path / "shoot"
    src.mkdir()
    photos = sorted((carvana / "train").glob("*.jpg")) + sorted((carvana / "val").glob("*.jpg"))
    for i in range(PHOTOS):
        shutil.copy(photos[i % len(photos)], src / f"{photos[i % len(photos)].stem}_{i:02d}.jpg")
    out = tmp_path / "out"
    manifest = out / MANIFEST_FILE
    cmd = [sys.executable, "-m", "engine.cli", "predict", str(src), "--out", str(out)]
    cmd += ["--model", str(MODEL), "--device", "cpu", "--format", "png", "--format", "mask"]
    cmd += ["-q", "--ray", cluster.address, "--photos-per-task", "1"]
    log = tmp_path / "driver.log"
    with open(log, "wb") as sink:
        driver = subprocess.Popen(cmd, cwd=ROOT, env=os.environ, stdout=sink, stderr=sink)
        try:
            deadline, lost_at = time.monotonic() + BATCH_LIMIT_S, None
            while driver.poll() is None and time.monotonic() < deadline:
                lines = len(_photo_lines(manifest)) if manifest.exists() else 0
                if lost_at is None and lines >= 2:
                    cluster.remove_node(worker)  # its actor, its tasks, the blocks it held
                    lost_at = lines
                time.sleep(0.05)
            code = driver.poll()
        finally:
            driver.kill()
            driver.wait(30)
    text = log.read_text(errors="replace")
    assert code is not None, f"the batch hung (no end in {BATCH_LIMIT_S} s):\n{text[-3000:]}"
    assert lost_at is not None and lost_at < PHOTOS, "the node was not lost mid-batch"
    assert code == 0, text[-3000:]
    assert "done: 16, failed: 0" in text

    entries = _photo_lines(manifest)
    assert len(entries) == PHOTOS  # one line per photo, none twice
    assert sorted(e["photo"] for e in entries) == sorted(str(p) for p in src.iterdir())
    written = []
    for e in entries:  # each line true: the photo's digest, its outputs there and sound
        assert e["status"] == "done" and e["digest"] == file_digest(e["photo"])
        stem = Path(e["photo"]).stem
        assert e["outputs"] == {"png": f"{stem}.png", "mask": f"{stem}_mask.png"}
        mask = read_mask(out / e["outputs"]["mask"])
        assert 0.05 < mask.mean() < 0.95
        written += e["outputs"].values()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(written)
    record = Counter(e["name"] for e in _lines(out / MANIFEST_NAME) if "name" in e)
    assert record == Counter(written)  # every file written exactly once


def _lines(ledger: Path) -> list[dict]:
    """The folder's ledger, line by line (a line being written is left for the next look)."""
    text = ledger.read_text()
    return [json.loads(t) for t in text[: text.rfind("\n") + 1].splitlines()]


def _photo_lines(ledger: Path) -> list[dict]:
    """The ledger's photo lines (`engine.batch.manifest`), not its files nor its claims."""
    return [e for e in _lines(ledger) if "status" in e]
