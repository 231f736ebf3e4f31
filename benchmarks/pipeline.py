"""Batch throughput: `carmask predict` (read ahead, write behind) against the sequential loop.

One run, the same 64 photos (Carvana val, 1918×1280), the same outputs (`--format png`, the
cutout, by default), the shipped default model (`--ensemble`: the shipped ensemble):

- `sequential, PyTorch`: today's loop before this change: read, segment, write, then the next
  photo, on the PyTorch backend (the baseline);
- `sequential, OpenVINO`: the same loop on the OpenVINO backend;
- `carmask predict, 2 lanes`: `engine.cli.predict.cmd_predict` itself
(`engine.inference.pipeline.Lanes`:
  two photos at once, each read, segmented by its own Predictor on half the threads, and
  written on its own thread).

The photos are read once beforehand (all runs find them in the OS cache); the predictors are
built (and the model converted) before the clock starts. Rounds alternate the order. Reported:
photos/s per run and round, the medians and the ratios to the baseline, and whether the masks
written agree (pixel for pixel between the two OpenVINO runs; Dice against the baseline's).

    python benchmarks/pipeline.py [-n 64] [--rounds 2] [--format png] [--precision fp32]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.batch.export import ExportOptions, export_photo
from engine.batch.outputs import OutputPlan
from engine.cli.common import predict_config
from engine.cli.parser import build_parser
from engine.cli.predict import cmd_predict
from engine.inference.lanes import make_lanes
from engine.inference.predict import Predictor
from engine.io import atomic_write_json, read_mask, read_photo
from engine.modelfiles.library import chosen_model_paths
from engine.training.metrics import dice

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "carvana" / "val"


def sequential(predictor: Predictor, photos: list[Path], out: Path, formats: tuple) -> None:
    """The loop `carmask predict` ran before `engine.inference.pipeline`: one photo at a time."""
    options = ExportOptions(formats=formats)
    plan = OutputPlan(formats, photos)
    for f in photos:
        plan.assign(f, out)
    for path in photos:
        photo = read_photo(path)
        mask = predictor.predict(photo.rgb)
        export_photo(photo.rgb, mask, path, out, options, plan, photo.alpha)


def predict_args(photos: list[Path], out: Path, formats: tuple, precision: str, models):
    argv = ["predict", *map(str, photos), "--out", str(out), "--quiet", "--precision", precision]
    for f in formats:
        argv += ["--format", f]
    for m in models:
        argv += ["--model", str(m)]
    return build_parser().parse_args(argv)


def pipelined(predictors, photos: list[Path], out: Path, formats: tuple) -> None:
    args = predict_args(photos, out, formats, "fp32", [])
    if cmd_predict(args, predictors) != 0:  # one Predictor per lane
        raise RuntimeError("carmask predict failed on the benchmark photos")


def masks_of(out: Path) -> dict[str, np.ndarray]:
    return {p.name: read_mask(p) for p in sorted(out.glob("*.png"))}


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    p.add_argument("-n", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--format", action="append", choices=("png", "mask", "jpg"))
    p.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16"))
    p.add_argument("--ensemble", action="store_true", help="the shipped ensemble")
    p.add_argument("--out", type=Path, default=here / "results" / "pipeline-cpu.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    formats = tuple(args.format or ["png"])
    photos = sorted(args.photos.glob("*.jpg"))[: args.n]
    for f in photos:
        f.read_bytes()
    model = chosen_model_paths([], args.ensemble)
    torch_p = Predictor(model, device="cpu", precision=args.precision, backend="torch")
    ov_p = Predictor(model, device="cpu", precision=args.precision, backend="openvino")
    config = predict_config(predict_args(photos, Path("."), formats, args.precision, model))
    lanes, restore = make_lanes(config)
    restore()
    lane_threads = lanes[0].models[0].runner.threads
    runs = {  # name: (loop, predictor(s), torch threads)
        "sequential, PyTorch": (sequential, torch_p, args.threads),
        "sequential, OpenVINO": (sequential, ov_p, args.threads),
        f"carmask predict, {len(lanes)} lanes": (pipelined, lanes, lane_threads),
    }
    work = Path(tempfile.mkdtemp(prefix="carmask-pipeline-"))
    rounds: list[dict[str, float]] = []
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        rounds.append({})
        for name in order:
            fn, predictor, threads = runs[name]
            out = work / f"{r}-{name.replace(', ', '-')}"
            torch.set_num_threads(threads)
            t = time.perf_counter()
            fn(predictor, photos, out, formats)
            rounds[-1][name] = len(photos) / (time.perf_counter() - t)
            print(f"round {r + 1}: {name:22s} {rounds[-1][name]:.2f} photos/s", flush=True)
    outs = {name: masks_of(work / f"0-{name.replace(', ', '-')}") for name in runs}
    base, seq_ov, pipe = (outs[n] for n in runs)
    same = all(np.array_equal(seq_ov[k], pipe[k]) for k in seq_ov) and len(pipe) == len(seq_ov)
    vs_torch = [dice(pipe[k], base[k]) for k in base]
    shutil.rmtree(work, ignore_errors=True)
    medians = {n: statistics.median(rd[n] for rd in rounds) for n in runs}
    lane_run = list(runs)[-1]
    baseline = medians["sequential, PyTorch"]
    report = {
        "models": [m.name for m in model],
        "photos": len(photos),
        "formats": list(formats),
        "threads": args.threads,
        "precision": args.precision,
        "labels": {
            "torch": torch_p.device_label,
            "openvino": ov_p.device_label,
            "lanes": [p.device_label for p in lanes],
        },
        "rounds_photos_per_s": rounds,
        "median_photos_per_s": medians,
        "ratio_to_baseline": {n: medians[n] / baseline for n in runs},
        "lanes_vs_sequential_openvino": medians[lane_run] / medians["sequential, OpenVINO"],
        "openvino_runs_write_equal_masks": same,
        "min_dice_lanes_vs_pytorch": min(vs_torch),
    }
    for n in runs:
        print(f"{n:26s} {medians[n]:.2f} photos/s  {report['ratio_to_baseline'][n]:.2f}x baseline")
    print(f"lanes / sequential (same backend): {report['lanes_vs_sequential_openvino']:.2f}x")
    print(f"masks: OpenVINO runs equal {same}; min Dice against PyTorch {min(vs_torch):.5f}")
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
