"""The batch on Ray against the local CLI (issue 23): photos/s and the per-photo cost Ray adds.

One run, the same full-size photos and model: `carmask predict` (the local CLI), then `carmask
predict --ray` on a local Ray instance with 1 and with 2 segmenting workers. Each way runs on all
`--photos` and on a quarter of them, `--rounds` times (the best round of each and the medians; the
local CLI with no Ray running, then Ray's ways in alternating order), into fresh output folders
(after one untimed warm-up run of the local CLI), so that its fixed cost (Ray's
start, the actors' model loading) and its cost per photo come apart: per photo = the slope
between the two runs, fixed = what is left. The per-photo overhead of Ray is its slope less the
local CLI's. Also checks that every way wrote the same files, byte for byte, and times each
stage alone (one thread) and what Ray Data costs to move a photo through the pipeline.

    python benchmarks/cluster.py [--photos 16] [--rounds 2] [--model FILE] [--cpus 2]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import main as carmask
from engine.io import atomic_write_json
from engine.modelfiles.library import default_model_paths

DATA = Path("/work/shared/data/carvana/val")
_MODEL: list[Path] = []


def _run(argv: list[str], quiet: bool) -> float:
    """Seconds `carmask argv` took (its output kept out of the way unless asked for)."""
    sink = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = carmask(argv)
    seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"carmask {' '.join(argv)} failed ({code}):\n{sink.getvalue()}")
    if not quiet:
        print(sink.getvalue().strip().splitlines()[-1])
    return seconds


class _Passthrough:
    """A segmenting actor that segments nothing: what Ray costs to move a photo through."""

    def __call__(self, row):
        return row


def _stage_costs(ray, photos: list[Path], out: Path) -> dict:
    """Median seconds per photo of each stage run here in one process (one thread), and what
    Ray Data adds per photo to move it through the pipeline: read tasks → an actor → export
    tasks, unfused (as beside a GPU), with the actor doing nothing and the export dropping the
    pixels; per photo = the slope between all photos and a quarter of them."""
    import torch
    from ray.data import ActorPoolStrategy

    from engine.cluster import stages

    spec = stages.JobSpec(str(out), ("png",), (255, 255, 255), 100.0, (str(_MODEL[0]),))
    rows = [{"photo": str(p), "outputs": json.dumps({"png": str(out / f"{p.stem}.png")})}
            for p in photos]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        segment = stages.Segment(spec, [(_MODEL[0].name, _MODEL[0].read_bytes())])
        times: dict[str, list[float]] = {"read_decode": [], "segment_1_thread": [], "export": []}
        for row in rows[:6]:
            t = time.perf_counter()
            read = stages.read_stage(row, spec)
            times["read_decode"].append(time.perf_counter() - t)
            t = time.perf_counter()
            masked = segment(read)
            times["segment_1_thread"].append(time.perf_counter() - t)
            t = time.perf_counter()
            stages.export_stage(masked, spec)
            times["export"].append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    costs = {f"{k}_s": statistics.median(v) for k, v in times.items()}

    def through_ray(some: list[dict]) -> float:
        t = time.perf_counter()
        ds = (
            ray.data.from_items(some, override_num_blocks=max(1, len(some) // 4))
            .map(stages.read_stage, fn_kwargs={"spec": spec})
            .map(_Passthrough, compute=ActorPoolStrategy(size=1), num_cpus=0.5)
            .map(stages._small)
        )
        assert sum(1 for _ in ds.iter_rows()) == len(some)
        return time.perf_counter() - t

    def locally(some: list[dict]) -> float:
        t = time.perf_counter()
        for row in some:
            stages._small(stages.read_stage(row, spec))
        return time.perf_counter() - t

    quarter = rows[: len(rows) // 4]
    slope = {}
    for name, fn in (("ray", through_ray), ("local", locally)):
        fn(quarter)  # warm-up
        slope[name] = min(  # the least disturbed of 3
            (fn(rows) - fn(quarter)) / (len(rows) - len(quarter)) for _ in range(3)
        )
    costs["ray_move_per_photo_s"] = slope["ray"] - slope["local"]
    costs["note"] = (
        "stage medians on 6 photos, one thread, in this process; ray_move_per_photo_s: Ray "
        "Data's cost per photo to pass it (decoded RGB) from a read task through an actor to "
        "an export task, beyond reading it, 4 photos per task (carmask's default)"
    )
    return costs


PICKS = {"best": min, "median": statistics.median}


def _rows(runs: dict, ways: dict, counts: dict, pick) -> list[dict]:
    """Per way: photos/s of the whole set, and the slope (per photo) and intercept (fixed) from
    the whole set against the quarter, with `pick` of each set's rounds."""
    n_all, n_q = counts["all"], counts["quarter"]
    rows = []
    for way, extra in ways.items():
        times = {name: pick(v) for name, v in runs[way].items()}
        per_photo = (times["all"] - times["quarter"]) / (n_all - n_q)
        rows.append(
            {
                "way": way,
                "workers": int(extra[-1]) if extra else None,
                "photos": n_all,
                "seconds": times["all"],
                "photos_per_s": n_all / times["all"],
                "seconds_quarter": times["quarter"],
                "photos_quarter": n_q,
                "per_photo_s": per_photo,
                "steady_photos_per_s": 1.0 / per_photo if per_photo > 0 else None,
                "fixed_s": times["all"] - per_photo * n_all,
            }
        )
    for r in rows:
        r["per_photo_overhead_s"] = r["per_photo_s"] - rows[0]["per_photo_s"]
    return rows


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA, help="folder of photos (full size)")
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--model", help="model file (default: the shipped default)")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs Ray may use")
    p.add_argument("--workers", default="1,2", help="Ray worker counts to time")
    p.add_argument("--device", default="cpu", help="cpu (default), auto or cuda (a GPU node)")
    p.add_argument("--rounds", type=int, default=2, help="each way this often (medians)")
    p.add_argument("--out", type=Path, default=here / "results" / "cluster-cpu.json")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    import ray

    model = Path(args.model) if args.model else default_model_paths()[0]
    _MODEL[:] = [model]
    photos = sorted(args.data.glob("*.jpg"))[: args.photos]
    if len(photos) < 4:
        raise SystemExit(f"{args.data}: need at least 4 photos, found {len(photos)}")
    tmp = Path(tempfile.mkdtemp(prefix="carmask-cluster-bench-"))
    sets = {"all": tmp / "all", "quarter": tmp / "quarter"}
    for name, folder in sets.items():
        folder.mkdir()
        for f in photos if name == "all" else photos[: len(photos) // 4]:
            os.symlink(f.absolute(), folder / f.name)
    counts = {name: len(list(folder.iterdir())) for name, folder in sets.items()}
    base = ["--model", str(model), "--device", args.device, "-q"]
    ways = {"local": []} | {f"ray-{n}": ["--ray", "--workers", n] for n in args.workers.split(",")}
    written: dict[str, dict[str, bytes]] = {}
    runs: dict[str, dict[str, list[float]]] = {w: {"all": [], "quarter": []} for w in ways}
    loads: list[float] = []
    ray_starts: list[float] = []
    ray_gpus = 0

    def timed(way: str, r: int) -> None:
        for name, folder in sets.items():
            out = tmp / f"out-{way}-{name}-{r}"
            argv = ["predict", str(folder), "--out", str(out), *base, *ways[way]]
            runs[way][name].append(_run(argv, args.quiet))
            loads.append(os.getloadavg()[0])
            if name == "all":
                written.setdefault(way, _outputs(out))

    try:  # a warm-up: the first run in a process pays torch's one-time start-up
        _run(["predict", str(sets["quarter"]), "--out", str(tmp / "warm-up"), *base], True)
        for r in range(args.rounds):
            # the local CLI with no Ray on the machine (as its users run it), then Ray's ways,
            # their order alternating: others' load on the machine falls on every way
            timed("local", r)
            t0 = time.perf_counter()
            ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
            ray_starts.append(time.perf_counter() - t0)
            ray_gpus = int(ray.cluster_resources().get("GPU", 0))
            rays = [w for w in ways if w != "local"]
            for way in rays if r % 2 == 0 else reversed(rays):
                timed(way, r)
            if r < args.rounds - 1:
                ray.shutdown()
        rows = {kind: _rows(runs, ways, counts, pick) for kind, pick in PICKS.items()}
        stage_costs = _stage_costs(ray, photos, tmp / "stages")
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    for kind_rows in rows.values():
        for r in kind_rows:
            r["same_files_as_local"] = written[r["way"]] == written["local"]
    report = {
        "benchmark": "cluster",
        "environment": {
            "python": platform.python_version(),
            "ray": ray.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "ray_cpus": args.cpus,
            "gpus": ray_gpus,
            # others' work on this machine while it ran (1-minute load average after each run)
            "load_average_after_runs": loads,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "settings": {
            "data": str(args.data),
            "photos": counts["all"],
            "model": model.name,
            "formats": ["png"],
            "device": args.device,
        },
        "ray_init_s": statistics.median(ray_starts),
        "rows": rows["best"],  # the least disturbed round of each way (others share the CPUs)
        "rows_median": rows["median"],
        "seconds_by_round": runs,
        "stage_costs": stage_costs,
    }
    heads = ("photos/s", "steady", "s/photo", "overhead", "fixed")
    for kind, kind_rows in rows.items():
        print(f"{kind + ':':8s} " + " ".join(f"{h:>9s}" for h in heads))
        for r in kind_rows:
            steady = r["steady_photos_per_s"] or float("nan")
            print(
                f"{r['way']:8s} {r['photos_per_s']:9.3f} {steady:9.3f} {r['per_photo_s']:9.3f} "
                f"{r['per_photo_overhead_s']:+9.3f} {r['fixed_s']:9.1f}"
                f"{'' if r['same_files_as_local'] else '  (files differ from local!)'}"
            )
    print(f"ray.init: {statistics.median(ray_starts):.1f} s")
    print(
        "per photo, one thread: read+decode {read_decode_s:.3f} s, segment "
        "{segment_1_thread_s:.3f} s, export {export_s:.3f} s; Ray moving it through the "
        "pipeline: {ray_move_per_photo_s:+.3f} s".format(**stage_costs)
    )
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
