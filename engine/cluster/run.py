"""`carmask predict --ray [ADDRESS]`: the batch as a Ray Data pipeline, driven from here.

The driver (this process) lists the photos, plans every output name with the whole batch in view
(the same `OutputPlan` as the local CLI, so the same names), reads the manifest of the output
folder, and builds the pipeline: photo list → `read_stage` (CPU tasks) → `Segment` (an actor
pool, one `Predictor` per actor, GPU actors when the cluster has GPUs) → `export_stage` (CPU
tasks). Results stream back here as photos finish; each one is recorded in the manifest at once,
so a rerun after a crash, a lost node or Ctrl-C redoes only what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from engine.batch.export import ExportOptions
from engine.batch.manifest import DONE, Ledger, mask_settings, model_digest, options_key
from engine.batch.outputs import OutputPlan
from engine.cluster import stages
from engine.cluster.sources import find_sources, is_uri
from engine.cluster.stages import FAILED, OK, UNCHANGED, JobSpec
from engine.inference.config import PredictConfig
from engine.io import OutputWriteError
from engine.io.console import say

__all__ = ["cmd_predict_ray", "plan_resources"]


def _ray():
    try:
        import ray
    except ImportError:
        raise SystemExit(
            "carmask: error: --ray needs Ray: pip install carmask-studio[cluster] "
            '(or pip install "ray[data]")'
        ) from None
    return ray


def _check_args(args) -> None:
    if "listing" in (args.format or ()):
        raise SystemExit(
            "carmask: error: --format listing is not available with --ray yet (a car's frames "
            "need all its angles on one machine); run the listing without --ray"
        )
    if args.report:
        raise SystemExit("carmask: error: --report is not available with --ray yet")
    if is_uri(args.out):
        raise SystemExit(
            f"carmask: error: --out {args.out}: --ray writes into a folder every node sees (a "
            "shared folder, or a bucket mounted on every node); photos may come from s3:// or "
            "gs:// URIs (see README, 'Running on a cluster')"
        )


def task_cpus(node_cpus: list[float]) -> float:
    """CPUs each read and export task asks for: one, but half of the smallest node's where that
    is below two, so that an actor and a task always fit on a node together (a 1-CPU node with
    an actor on it would otherwise never run a read, and the batch would hang)."""
    return min(1.0, min(node_cpus, default=2.0) / 2)


def plan_resources(
    cluster: dict, node_cpus: list[float], workers: int | None, cpus: float | None, device: str
):
    """(actors, CPUs per actor, GPUs per actor) for the cluster's resources (`cluster`: Ray's
    totals; `node_cpus`: each node's CPUs). With GPUs (unless --device cpu): one actor per GPU
    (more share them). On CPUs only: one actor per node, each with its node's CPUs but one (left
    for reading and writing: `task_cpus`), or `workers` actors sharing the CPUs but one per node;
    an actor never asks for more CPUs than a node has."""
    gpus = int(cluster.get("GPU", 0)) if device != "cpu" else 0
    if gpus:
        n = workers or gpus
        return n, cpus or 1.0, 1.0 if n <= gpus else gpus / n  # a Predictor uses one GPU
    total = float(cluster.get("CPU", 1))
    nodes = len(node_cpus) or 1
    task = task_cpus(node_cpus)
    fits = max(min(node_cpus, default=total) - task, 0.5)
    if workers is None:
        return nodes, cpus or fits, 0.0
    return workers, cpus or min(max((total - nodes * task) / workers, 0.5), fits), 0.0


def blocks(photos: int, workers: int, per_task: int) -> int:
    """How many blocks (each a task of each stage) the photo list is cut into: `per_task` photos
    each (Ray's cost per task is tens of milliseconds: 1 photo per task costs 0.17 s per photo on
    2 cores, 4 cost 0.03 s, benchmarks/cluster.py), but at least two per worker so all of them
    work from the start, and one photo per block at most."""
    return max(1, min(photos, max(math.ceil(photos / per_task), 2 * workers)))


def _init(ray, address: str, quiet: bool) -> bool:
    """Connect to (or start) Ray; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    if address.startswith("ray://"):  # Ray Client: the driver's options are the server's
        ray.init(address=address)
    else:
        kwargs = {"address": address} if address else {}
        ray.init(**kwargs, log_to_driver=not quiet, logging_level=logging.WARNING)
    return True


def cmd_predict_ray(args, settings: Callable[[], PredictConfig]) -> int:
    _check_args(args)
    ray = _ray()
    intake, sources = find_sources(args.inputs)
    formats = tuple(args.format or ["png"])
    options = ExportOptions(formats=formats, background=args.background)
    plan = OutputPlan(options.formats, intake.photos)
    out = Path(args.out).absolute()  # the same on every node (workers have other cwds)
    config = settings()  # the models: chosen here, after the checks above, as before
    model = model_digest(config.models, **mask_settings(config))
    opts = options_key(formats, args.background)
    started = _init(ray, args.ray, args.quiet)
    try:
        if config.device == "cuda" and not ray.cluster_resources().get("GPU"):
            raise SystemExit("carmask: error: --device cuda, but the Ray cluster has no GPU")
        # all chosen and claimed before any write, once the cluster can run the batch
        names = plan.assign_all(intake.photos, out)
        ledger = Ledger(out, model, opts)
        rows = [
            {
                "photo": sources[p],
                "outputs": json.dumps({f: str(path) for f, path in names[p].items()}),
                "expect": ledger.expect(sources[p]),
            }
            for p in intake.photos
        ]
        return _run(ray, args, config, intake, rows, model, ledger)
    finally:
        if started:
            ray.shutdown()


def _run(ray, args, config: PredictConfig, intake, rows, model, ledger: Ledger) -> int:
    from ray.data import ActorPoolStrategy, DataContext

    if args.quiet:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = not args.quiet
    ctx.print_on_execution_start = False
    node_cpus = [
        float(node["Resources"]["CPU"])
        for node in ray.nodes()
        if node.get("Alive") and node.get("Resources", {}).get("CPU")
    ]
    resources = ray.cluster_resources()
    n, cpus, gpus = plan_resources(
        resources, node_cpus, args.workers, args.cpus_per_worker, config.device
    )
    task = task_cpus(node_cpus)
    spec = JobSpec(
        out=str(Path(args.out).absolute()),
        formats=tuple(args.format or ["png"]),
        background=tuple(args.background),
        max_megapixels=args.max_megapixels,
        models=tuple(str(m) for m in config.models),
        predict=config,
        threads=max(1, math.floor(cpus)),
    )
    where = f"{n} worker{'s' if n > 1 else ''}" + (f", {gpus:g} GPU each" if gpus else "")
    say(f"ray: {where}, {cpus:g} CPU each; {len(rows)} photos; model: {model[7:19]}")
    failed: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    done, unchanged, times = 0, 0, []
    t0 = time.perf_counter()
    if rows:
        parts = blocks(len(rows), n, args.photos_per_task)
        ds = (
            ray.data.from_items(rows, override_num_blocks=parts)
            .map(stages.read_stage, fn_kwargs={"spec": spec}, num_cpus=task)
            .map(
                stages.Segment,
                fn_constructor_kwargs={"spec": spec, "model_files": _model_files(ray, spec.models)},
                compute=ActorPoolStrategy(size=n),
                num_cpus=cpus,
                num_gpus=gpus,
            )
            .map(stages.export_stage, fn_kwargs={"spec": spec}, num_cpus=task)
        )
    try:
        for row in ds.iter_rows() if rows else ():
            photo = row["photo"]  # its path, or its URI
            outputs = {f: Path(p).name for f, p in json.loads(row["outputs"]).items()}
            if row["status"] == UNCHANGED:
                unchanged += 1
                continue
            if row["status"] == FAILED:
                failed.append((photo, row["reason"]))
                say(f"failed: {photo}: {row['reason']}")
                status = FAILED
            else:
                assert row["status"] == OK, row["status"]
                done += 1
                times.append(row["seconds"])
                status = DONE
                if row["note"]:
                    notes.append((photo, row["note"]))
            try:
                if status == DONE:
                    ledger.done(photo, row["digest"], outputs, row["seconds"])
                else:
                    ledger.failed(photo, row["digest"], row["reason"])
            except OutputWriteError as exc:  # the photo is done; a rerun will do it again
                say(f"failed: {exc.path}: {exc.reason}")
    except KeyboardInterrupt:
        left = len(rows) - done - unchanged - len(failed)
        wall = time.perf_counter() - t0
        _summary(
            done, unchanged, failed, notes, intake, times, where, f", not finished: {left}", wall
        )
        print("interrupted: the photos done so far are complete; run again to finish the rest")
        return 130
    _summary(done, unchanged, failed, notes, intake, times, where, wall=time.perf_counter() - t0)
    return 1 if failed or not intake.photos else 0


def _model_files(ray, models: tuple[str, ...]) -> list[tuple[str, object]]:
    """The model files' bytes in Ray's object store (put once, owned by this driver, so an actor
    restarted on another node still finds them), for each actor to load: every node uses
    exactly the driver's models, wherever (and whether) carmask keeps shipped models there."""
    return [(Path(m).name, ray.put(Path(m).read_bytes())) for m in models]


def _summary(done, unchanged, failed, notes, intake, times, where, extra="", wall=0.0) -> None:
    """The local CLI's summary, with the photos already done and the pace of the batch."""
    per = ""
    if times:
        per = f", {statistics.median(times):.2f} s per photo (median)"
        per += f", {done / wall:.2f} photos/s" if wall > 0 else ""
    more = f", {summary}" if (summary := intake.summary()) else ""
    print(f"done: {done}, failed: {len(failed)}, already done: {unchanged}{extra}{more}{per}; "
          f"device: ray, {where}")  # fmt: skip
    for path, reason in failed:
        print(f"  failed: {path}: {reason}")
    for path, reason in intake.skipped:
        print(f"  skipped: {path}: {reason}")
    for path, note in notes:
        print(f"  note: {path}: {note}")
    sys.stdout.flush()
