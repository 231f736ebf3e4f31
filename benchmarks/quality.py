"""Validation quality: mean Dice per model and for their ensemble, at the photos' full size.

Photo/mask pairs are found with `engine.training.pairs.find_pairs` (Kaggle layout: `DATA/<id>.jpg`
with
`DATA_masks/<id>_mask.gif`, and the other layouts it understands). Every model runs once per
photo through `engine.inference.predict.Predictor`: its logits are upsampled to the full photo size
and
turned into a probability map, as `carmask evaluate` does. From those maps come both each
model's mask (probability > the threshold in its header) and, with more than one model, the
ensemble mask (`engine.inference.ensemble.combine`, majority vote by default): no model runs twice.
The score is the mean over photos of the per-photo Dice (Kaggle Carvana's metric).

    python benchmarks/quality.py --model runs/a.safetensors --model runs/b.safetensors
    python benchmarks/quality.py --ensemble --limit 32 --out /tmp/q.json     # quick check

Without --model it scores the shipped default model (engine.modelfiles.library), plus the shipped
ensemble
with --ensemble.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from benchmarks.report_files import dump_path, write_report  # noqa: E402
from engine import __version__  # noqa: E402
from engine.inference.config import Backend  # noqa: E402
from engine.inference.devices import DEVICE_CHOICES, PRECISION_CHOICES, DeviceError  # noqa: E402
from engine.inference.ensemble import VOTE_METHODS, combine  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import ImageReadError, read_mask, read_rgb  # noqa: E402
from engine.modelfiles.checkpoint import ModelFileError  # noqa: E402
from engine.modelfiles.library import NoModelError, chosen_model_paths  # noqa: E402
from engine.training.metrics import dice  # noqa: E402
from engine.training.pairs import Pair, find_pairs, spread  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "carvana" / "val"
ENSEMBLE = "ensemble"
WORST = 10


# --- inputs -------------------------------------------------------------------------------------


def model_keys(names: list[str]) -> list[str]:
    """One unique key per model (its header name; `name#2` for a repeated one)."""
    keys: list[str] = []
    for name in names:
        key, n = name or "model", 2
        while key in keys or key == ENSEMBLE:
            key, n = f"{name}#{n}", n + 1
        keys.append(key)
    return keys


# --- measurement --------------------------------------------------------------------------------


def score_photo(predictor: Predictor, pair: Pair, vote: str) -> dict:
    """Dice of each model and of the ensemble on one photo (each model runs once)."""
    rgb = read_rgb(pair.image)
    truth = read_mask(pair.mask)
    if truth.shape != rgb.shape[:2]:
        h, w = rgb.shape[:2]
        raise ImageReadError(
            pair.mask, f"mask is {truth.shape[1]}×{truth.shape[0]} but the photo is {w}×{h}"
        )
    probs = predictor.probabilities(rgb)
    thresholds = [m.header.threshold for m in predictor.models]
    main = lambda mask: predictor.main_object(mask)[0]  # noqa: E731  (as predict writes it)
    scores = [dice(main(p > t), truth) for p, t in zip(probs, thresholds, strict=True)]
    ens = dice(main(combine(probs, thresholds, vote)), truth) if len(probs) > 1 else None
    return {"size": list(rgb.shape[:2]), "dice": scores, "ensemble": ens}


def summary(photos: list[str], scores: list[float]) -> dict:
    """Mean (the competition score), median, min and the `WORST` lowest photos."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], photos[i]))
    return {
        "mean_dice": float(np.mean(scores)),
        "median_dice": float(statistics.median(scores)),
        "min_dice": float(min(scores)),
        "worst": [{"photo": photos[i], "dice": scores[i]} for i in order[:WORST]],
    }


def run(predictor: Predictor, pairs: list[Pair], vote: str, keys: list[str], quiet=False):
    """Score every pair; returns (per-photo rows, skipped (path, reason), seconds)."""
    rows, skipped = [], []
    every = max(1, len(pairs) // 10)
    start = time.perf_counter()
    for i, pair in enumerate(pairs, 1):
        try:
            row = score_photo(predictor, pair, vote)
        except ImageReadError as exc:
            skipped.append((str(exc.path), exc.reason))
            print(f"  skipped {exc}", flush=True)
            continue
        rows.append({"photo": pair.image.name, **row})
        if not quiet and (i % every == 0 or i == len(pairs)):
            means = [f"{k} {np.mean([r['dice'][j] for r in rows]):.5f}" for j, k in enumerate(keys)]
            if len(keys) > 1:
                means.append(f"{ENSEMBLE} {np.mean([r['ensemble'] for r in rows]):.5f}")
            elapsed = time.perf_counter() - start
            print(
                f"  {i:>4}/{len(pairs)} photos, {elapsed:6.1f} s; " + ", ".join(means), flush=True
            )
    return rows, skipped, time.perf_counter() - start


# --- output -------------------------------------------------------------------------------------


def split_model_arg(text: str) -> tuple[str | None, str]:
    """`LABEL=PATH` or `PATH` (a path that exists as given wins over a label split)."""
    label, sep, path = text.partition("=")
    if not sep or not label or "/" in label or "\\" in label or Path(text).exists():
        return None, text
    return label, path


def environment(predictor: Predictor) -> dict:
    """Versions, the device and its label (precision included), threads, UTC date."""
    return {
        "engine": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(predictor.device),
        "device_label": predictor.device_label,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def build_report(args, predictor: Predictor, keys, paths, rows, skipped, found, seconds) -> dict:
    photos = [r["photo"] for r in rows]
    models = []
    for j, (key, lm, path) in enumerate(zip(keys, predictor.models, paths, strict=True)):
        h = lm.header
        models.append(
            {
                "key": key,
                "name": h.name,
                "file": str(Path(path).resolve()),
                "sha256": h.sha256,
                "input_size": list(h.input_size),
                "threshold": h.threshold,
                "encoder": h.arch.encoder,
                "join": h.arch.join,
                "header_val_dice": h.metrics.get("val_dice"),
                **summary(photos, [r["dice"][j] for r in rows]),
            }
        )
    ensemble = None
    if len(keys) > 1:
        ensemble = {
            "models": keys,
            "vote": args.vote,
            **summary(photos, [r["ensemble"] for r in rows]),
        }
    per_photo = []
    for r in rows:
        scores = dict(zip(keys, r["dice"], strict=True))
        if r["ensemble"] is not None:
            scores[ENSEMBLE] = r["ensemble"]
        per_photo.append({"photo": r["photo"], "size": r["size"], "dice": scores})
    sizes = sorted({f"{r['size'][1]}x{r['size'][0]}" for r in rows})
    return {
        "benchmark": "quality",
        "environment": environment(predictor),
        "settings": {
            "data": str(Path(args.data).resolve()),
            "pairs_found": found,
            "limit": args.limit,
            "tta": args.tta,
            "precision": args.precision,
            "backend": predictor.backend,
            "vote": args.vote,
        },
        "photos": len(rows),
        "photo_sizes": sizes,  # WIDTHxHEIGHT; Carvana photos are 1918x1280
        "seconds": seconds,
        "models": models,
        "ensemble": ensemble,
        "per_photo": per_photo,
        "skipped": [{"path": p, "reason": why} for p, why in skipped],
    }


def print_table(report: dict) -> None:
    header = (
        f"{'model':<28} {'input':>9} {'thr':>5} {'mean Dice':>10} {'median':>8} {'min':>8} "
        f"{'photos':>6}"
    )
    print(header)
    print("-" * len(header))
    n = report["photos"]
    for m in report["models"]:
        size = "x".join(str(v) for v in m["input_size"])
        print(
            f"{m['key']:<28} {size:>9} {m['threshold']:>5.2f} {m['mean_dice']:>10.5f} "
            f"{m['median_dice']:>8.5f} {m['min_dice']:>8.5f} {n:>6}"
        )
    ens = report["ensemble"]
    if ens:
        label = f"{ENSEMBLE} ({ens['vote']}, {len(ens['models'])})"
        print(
            f"{label:<28} {'':>9} {'':>5} {ens['mean_dice']:>10.5f} {ens['median_dice']:>8.5f} "
            f"{ens['min_dice']:>8.5f} {n:>6}"
        )
    groups = [(m["key"], m["worst"]) for m in report["models"]]
    if ens:
        groups.append((ENSEMBLE, ens["worst"]))
    for key, worst in groups:
        print(f"\nworst {len(worst)} for {key}:")
        for w in worst:
            print(f"  {w['photo']:<28} {w['dice']:.5f}")


# --- command line -------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="validation photos (with masks)")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FILE",
        help="model file (repeat for an ensemble); default: the shipped default model",
    )
    p.add_argument("--ensemble", action="store_true", help="add the shipped ensemble")
    p.add_argument("--limit", type=_positive, help="score N photos evenly spread over the set")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    p.add_argument("--tta", action="store_true", help="also predict the mirrored photo")
    p.add_argument(
        "--precision", choices=PRECISION_CHOICES, default="auto", help="as for carmask predict"
    )
    p.add_argument("--vote", default="majority", choices=VOTE_METHODS, help="ensemble vote")
    p.add_argument(
        "--web-val",
        action="store_true",
        help="--data is web-cars/: score its fixed validation split "
        "(engine.training.scenes.sources)",
    )
    p.add_argument("--backend", default="auto", choices=Backend.values(), help="as for predict")
    p.add_argument("--threads", type=_positive, help="torch CPU threads")
    p.add_argument("--out", help="JSON path (default benchmarks/results/quality-<device>.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        paths = chosen_model_paths(args.model, args.ensemble)
        predictor = Predictor(
            paths,
            device=args.device,
            tta=args.tta,
            vote=args.vote,
            precision=args.precision,
            backend=args.backend,
        )
    except (NoModelError, ModelFileError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = model_keys([m.header.name for m in predictor.models])

    if args.web_val:  # the web photos' fixed validation split (`--data .../web-cars`)
        pairs, problems = web_pairs(args.data, "val"), []
    else:
        report = find_pairs(args.data, check_content=False)  # every photo is read while scoring
        pairs, problems = sorted(report.pairs, key=lambda p: str(p.image)), report.problems
    for path, reason in problems:
        print(f"  skipped {path}: {reason}")
    if not pairs:
        print(f"error: no photo/mask pairs in {args.data}", file=sys.stderr)
        return 1
    chosen = spread(pairs, args.limit)
    print(f"device: {predictor.device_label}", flush=True)
    print(
        f"{len(chosen)} of {len(pairs)} photos in {args.data}; models: {', '.join(keys)}"
        f"{'; TTA' if args.tta else ''}",
        flush=True,
    )

    rows, skipped, seconds = run(predictor, chosen, args.vote, keys, args.quiet)
    if not rows:
        print("error: no photo could be scored", file=sys.stderr)
        return 1
    skipped = [(str(p), why) for p, why in problems] + skipped
    result = build_report(args, predictor, keys, paths, rows, skipped, len(pairs), seconds)
    print()
    print_table(result)
    print(f"\n{len(rows)} photos in {seconds:.1f} s ({seconds / len(rows):.2f} s per photo)")

    default = REPO / "benchmarks" / "results" / f"quality-{predictor.device.type}.json"
    out = Path(args.out or default)
    write_report(out, result, per_photo=[("per_photo",)])  # per_photo: an ignored dump
    print(f"wrote {out} (per photo: {dump_path(out)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
