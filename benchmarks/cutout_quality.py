"""Cutouts a dealer can publish (issue 29): the main-object step and the soft, clean edges.

For each photo of web-cars' fixed validation part (47 photos, not Carvana, some with several
cars) and of Carvana val at full size (32 photos spread over the 16 cars), with the shipped
default model run once per photo:

- Dice of today's mask (the model's threshold: the baseline), of a plain largest-piece filter,
  and of the main-object step (`engine.matte.select`), which is what `carmask predict` now
  gives; and the Dice of the cutout's thresholded alpha (alpha > 127), which must equal the
  last one's;
- the edge's softness: the share of the outline's pixels (3×3 morphological gradient of the
  mask) whose alpha lies strictly between 0 and 255, before (today's 0/255 cutout) and after;
- the PNG's size before (`cutout_rgba`: hard alpha, the backdrop's RGB kept under alpha 0) and
  after (`clean_cutout`: soft edge, decontaminated colours, RGB = 0 under alpha 0), both at the
  export's compression level;
- the time of the new steps per photo (selection, soft alpha, clean cutout; wall and CPU
  seconds) beside the model's own time and the old cutout's.

Medians and means are printed and written as JSON. Run it with OMP_NUM_THREADS=1: the CPU is
shared (the report says what the load was).

    OMP_NUM_THREADS=1 python benchmarks/cutout_quality.py [--data ../shared/data] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from benchmarks.report_files import dump_path, write_report  # noqa: E402
from engine.batch.export import ExportOptions, cutout_rgba  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import image_writer, read_mask, read_rgb  # noqa: E402
from engine.matte.alpha import clean_cutout, edge_alpha  # noqa: E402
from engine.matte.select import select_main_car  # noqa: E402
from engine.modelfiles.library import default_model_paths  # noqa: E402
from engine.training.metrics import dice  # noqa: E402
from engine.training.pairs import find_pairs, spread  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402

CARVANA_PHOTOS = 32


def largest_piece(mask: np.ndarray) -> np.ndarray:
    """The plain filter the issue compares with: the largest 8-connected piece alone."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def soft_share(alpha: np.ndarray) -> float:
    """The share of the outline's pixels whose alpha is strictly between 0 and 255."""
    car = (alpha > 127).view(np.uint8)
    outline = cv2.morphologyEx(car, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    if not outline.any():
        return float("nan")
    a = alpha[outline]
    return float(np.mean((a > 0) & (a < 255)))


def png_bytes(rgba: np.ndarray) -> int:
    buf = io.BytesIO()
    image_writer(rgba, "PNG", compress_level=ExportOptions().png_compress_level)(buf)
    return buf.tell()


class Clock:
    """Wall and CPU seconds of each step, per photo."""

    def __init__(self):
        self.times: dict[str, tuple[float, float]] = {}

    def run(self, name: str, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.times[name] = (time.perf_counter() - w, time.process_time() - c)
        return out


def measure(predictor: Predictor, pair) -> dict:
    rgb, truth = read_rgb(pair.image), read_mask(pair.mask)
    lm, t = predictor.models[0], predictor.models[0].header.threshold
    clock = Clock()
    logits = clock.run("model", predictor.full_size_logits, lm, rgb).cpu().numpy()
    raw = logits > float(np.log(t / (1 - t)))  # today's mask
    selection = clock.run("select", select_main_car, raw)
    prob = 1 / (1 + np.exp(-logits))
    alpha = clock.run("soft_alpha", edge_alpha, selection.mask, prob, t)
    after = clock.run("clean_cutout", clean_cutout, rgb, alpha)
    before = clock.run("old_cutout", cutout_rgba, rgb, raw)
    return {
        "photo": pair.image.name,
        "size": list(rgb.shape[:2]),
        "dice_today": dice(raw, truth),
        "dice_largest_piece": dice(largest_piece(raw), truth),
        "dice_main_object": dice(selection.mask, truth),
        "dice_thresholded_alpha": dice(after[..., 3] > 127, truth),
        "alpha_is_mask": bool(np.array_equal(after[..., 3] > 127, selection.mask)),
        "soft_edge_before": soft_share(before[..., 3]),
        "soft_edge_after": soft_share(after[..., 3]),
        "rgb_zero_under_alpha_0": not after[after[..., 3] == 0, :3].any(),
        "png_bytes_before": png_bytes(before),
        "png_bytes_after": png_bytes(after),
        "selection": selection.to_json(),
        "seconds": {k: {"wall": w, "cpu": c} for k, (w, c) in clock.times.items()},
    }


def summarise(rows: list[dict]) -> dict:
    def stats(values) -> dict:
        v = np.asarray(values, np.float64)
        return {"mean": float(np.nanmean(v)), "median": float(np.nanmedian(v))}

    keys = [k for k in rows[0] if k.startswith(("dice_", "soft_edge_", "png_bytes_"))]
    out = {"photos": len(rows), **{k: stats([r[k] for r in rows]) for k in keys}}
    out["alpha_is_mask_everywhere"] = all(r["alpha_is_mask"] for r in rows)
    out["rgb_zero_under_alpha_0_everywhere"] = all(r["rgb_zero_under_alpha_0"] for r in rows)
    out["png_size_ratio"] = stats([r["png_bytes_after"] / r["png_bytes_before"] for r in rows])
    steps = rows[0]["seconds"].keys()
    out["ms"] = {
        s: {kind: stats([1000 * r["seconds"][s][kind] for r in rows]) for kind in ("wall", "cpu")}
        for s in steps
    }
    new = [
        sum(r["seconds"][s]["wall"] for s in ("select", "soft_alpha", "clean_cutout")) for r in rows
    ]
    out["ms"]["new_steps_total"] = {"wall": stats([1000 * s for s in new])}
    changed = [r for r in rows if abs(r["dice_main_object"] - r["dice_today"]) > 1e-4]
    out["changed_by_main_object"] = [
        {k: r[k] for k in ("photo", "dice_today", "dice_largest_piece", "dice_main_object")}
        for r in changed
    ]
    return out


def _print(name: str, s: dict) -> None:
    print(f"{name}: {s['photos']} photos (mean / median)")
    for k in ("dice_today", "dice_largest_piece", "dice_main_object", "dice_thresholded_alpha"):
        print(f"  {k:24s} {s[k]['mean']:.5f} / {s[k]['median']:.5f}")
    print(
        f"  soft edge share: before {s['soft_edge_before']['mean']:.3f}, after"
        f" {s['soft_edge_after']['mean']:.3f} / {s['soft_edge_after']['median']:.3f}; thresholded"
        f" alpha = mask: {s['alpha_is_mask_everywhere']}; RGB = 0 under alpha 0:"
        f" {s['rgb_zero_under_alpha_0_everywhere']}"
    )
    print(
        f"  PNG: {s['png_bytes_before']['median'] / 1024:.0f} KiB before,"
        f" {s['png_bytes_after']['median'] / 1024:.0f} KiB after (median), ratio"
        f" {s['png_size_ratio']['median']:.2f}"
    )
    ms = s["ms"]
    print(
        "  ms per photo (median wall / cpu): "
        + ", ".join(
            f"{k} {v['wall']['median']:.1f}" + (f"/{v['cpu']['median']:.1f}" if "cpu" in v else "")
            for k, v in ms.items()
        )
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--limit", type=int, default=0, help="at most N photos per set (0: all)")
    p.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "cutout-quality-cpu.json"
    )
    args = p.parse_args(argv)
    models = default_model_paths()
    predictor = Predictor(models, device="cpu")
    carvana = sorted(
        find_pairs(args.data / "carvana" / "val", check_content=False).pairs,
        key=lambda p: str(p.image),
    )
    sets = {
        "web-cars-val": web_pairs(args.data / "web-cars", "val"),
        "carvana-val-32": spread(carvana, CARVANA_PHOTOS),
    }
    load = os.getloadavg()
    report = {
        "model": [m.name for m in models],
        "device": predictor.device_label,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_start": [round(v, 2) for v in load],
        "note": "a shared CPU (a training run and other jobs): wall times are inflated; CPU "
        "seconds (process time) are closer to what a free core gives",
        "sets": {},
    }
    for name, pairs in sets.items():
        pairs = spread(pairs, args.limit) if args.limit else pairs
        rows = [measure(predictor, pair) for pair in pairs]
        report["sets"][name] = {"summary": summarise(rows), "rows": rows}
        _print(name, report["sets"][name]["summary"])
    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    write_report(args.out, report, [("sets", name, "rows") for name in report["sets"]])
    print(f"→ {args.out} (per photo: {dump_path(args.out)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
