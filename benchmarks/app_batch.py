"""The app's batch: photos per second of its worker (`app.worker.BatchWorker`), one run, the same
photos (Carvana val, 1918×1280) and the shipped default model, each model mask written as the
app writes it:

- `before: read-ahead, one photo at a time`: the worker as it was before it ran
  `engine.batch.photo.run_batch` (loaded from git, `--before REF`);
- `run_batch, 1 lane`: the worker today, one photo at a time;
- `run_batch, N lanes`: the worker today as the app runs it (`get_lanes`: two photos at once
  on a CPU with 2 threads or more).

The photos are read once beforehand (every run finds them in the OS cache); the predictors are
built (and the model converted) before the clock starts, as the app keeps them across batches.
Rounds alternate the order. Reported: photos/s per run and round, the medians, the ratios, and
whether the runs wrote the same masks.

    python benchmarks/app_batch.py [-n 32] [--rounds 2] [--before 1756701]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication  # noqa: E402

from app import worker as today  # noqa: E402
from engine.io import atomic_write_json, read_mask  # noqa: E402
from engine.modelfiles.library import chosen_model_paths  # noqa: E402

DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "carvana" / "val"
BEFORE = "1756701"  # the last commit whose app worker read ahead, one photo at a time


def worker_at(ref: str, work: Path):
    """`app.worker` as it was at git `ref`, imported as its own module."""
    source = subprocess.run(
        ["git", "show", f"{ref}:app/worker.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    path = work / "worker_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("worker_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["worker_before"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def run(module, photos: list[Path], out: Path, models: list[Path], lanes: int | None) -> float:
    """One batch of the worker of `module` on this thread; its photos per second."""
    jobs = [module.BatchJob(p.stem, p, out / f"{p.stem}.png") for p in photos]
    args = () if lanes is None else (lanes,)
    worker = module.BatchWorker(jobs, models, "cpu", *args)
    failed: list = []
    if hasattr(worker, "photo_failed"):
        worker.photo_failed.connect(lambda key, reason: failed.append((key, reason)))
    else:
        worker.photo_result.connect(lambda r: r.error and failed.append((r.job.key, r.reason)))
    t = time.perf_counter()
    worker.run()
    seconds = time.perf_counter() - t
    if failed:
        raise RuntimeError(f"the batch failed on {failed[:3]}")
    return len(photos) / seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    p.add_argument("-n", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--before", default=BEFORE, help="git ref of the worker before run_batch")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "app-batch.json")
    args = p.parse_args(argv)
    _app = QCoreApplication.instance() or QCoreApplication([])
    photos = sorted(args.photos.glob("*.jpg"))[: args.n]
    for f in photos:
        f.read_bytes()
    models = chosen_model_paths([], False)
    work = Path(tempfile.mkdtemp(prefix="carmask-app-batch-"))
    before = worker_at(args.before, work)
    threads = torch.get_num_threads()
    lanes, restore = today.get_lanes(models, "cpu", len(photos))
    restore()
    runs = {  # name: (module, lanes argument)
        "before: read-ahead, one photo at a time": (before, None),
        "run_batch, 1 lane": (today, 1),
        f"run_batch, {len(lanes)} lanes": (today, len(lanes)),
    }
    for module, lanes_asked in runs.values():  # the predictors built, the model converted
        run(module, photos[:2], work / "warm", models, lanes_asked)
    rounds: list[dict[str, float]] = []
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        rounds.append({})
        for name in order:
            module, lanes_asked = runs[name]
            out = work / f"{r}-{list(runs).index(name)}"
            rounds[-1][name] = run(module, photos, out, models, lanes_asked)
            print(f"round {r + 1}: {name:40s} {rounds[-1][name]:.2f} photos/s", flush=True)
    masks = [
        {m.name: read_mask(m) for m in sorted((work / f"0-{i}").glob("*.png"))}
        for i in range(len(runs))
    ]
    same = all(
        len(m) == len(photos) and all(np.array_equal(m[k], masks[0][k]) for k in m) for m in masks
    )
    medians = {n: statistics.median(rd[n] for rd in rounds) for n in runs}
    names = list(runs)
    report = {
        "models": [m.name for m in models],
        "photos": len(photos),
        "torch_threads": threads,
        "before": args.before,
        "lanes": len(lanes),
        "rounds_photos_per_s": rounds,
        "median_photos_per_s": medians,
        "lanes_vs_before": medians[names[2]] / medians[names[0]],
        "lanes_vs_one_lane": medians[names[2]] / medians[names[1]],
        "runs_write_equal_masks": same,
    }
    for n in runs:
        print(f"{n:40s} {medians[n]:.2f} photos/s")
    print(f"lanes / before: {report['lanes_vs_before']:.2f}x; lanes / 1 lane: "
          f"{report['lanes_vs_one_lane']:.2f}x; equal masks: {same}")  # fmt: skip
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
