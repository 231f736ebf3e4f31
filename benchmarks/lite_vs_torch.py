"""The CPU edition's torch-free predictor against the PyTorch edition's, mask for mask (issue 33).

The shipped default (`resources/models/`'s manifest) runs through `Predictor` (the OpenVINO
backend, float32: the full edition on the CPU) and through `LitePredictor`
(`engine.inference.lite`: the same model exported once with
`engine.inference.backends.export_ir`, numpy and OpenCV, no torch) on `--carvana N` Carvana val
photos at their full 1918x1280 (spread evenly over DATA/carvana/val) and `--web N` photos of the
web-cars validation split (`engine.training.scenes.sources.web_pairs`, 480x360, as
benchmarks/robustness.py picks it). Per set: the Dice between the two predictors' masks (what
`carmask predict` writes: `predict`, the main car) as median and minimum, the largest logit
difference, and each predictor's median seconds per photo (the two alternate which goes first
on each photo). The bar: Dice >= 0.9999 on every photo.

    python benchmarks/lite_vs_torch.py --carvana 8 --web 16 --threads 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine import __version__  # noqa: E402
from engine.inference.backends.export_ir import export_ir  # noqa: E402
from engine.inference.lite import LitePredictor  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import atomic_write_json, read_rgb  # noqa: E402
from engine.modelfiles.library import default_model_paths  # noqa: E402
from engine.training.metrics import dice  # noqa: E402
from engine.training.pairs import spread  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402

DATA = REPO.parents[1] / "shared" / "data"
BAR = 0.9999


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def compare(name: str, photos: list[Path], full: Predictor, lite: LitePredictor) -> dict:
    rows = []
    for k, photo in enumerate(photos):
        rgb = read_rgb(photo)
        first, second = (full, lite) if k % 2 == 0 else (lite, full)
        masks, secs = {}, {}
        for p in (first, second):
            masks[p], secs[p] = timed(p.predict, rgb)
        logit_gap = float(np.abs(full.logits(rgb) - lite.logits(rgb)).max())
        d = float(dice(masks[full], masks[lite]))
        rows.append(
            {
                "photo": photo.name,
                "dice": d,
                "max_logit_difference": logit_gap,
                "pixels_differing": int((masks[full] != masks[lite]).sum()),
                "torch_s": secs[full],
                "lite_s": secs[lite],
            }
        )
        print(
            f"{name} {k + 1}/{len(photos)} {photo.name}: Dice {d:.6f}, logits within "
            f"{logit_gap:.2e}, {secs[full]:.2f} s (torch) / {secs[lite]:.2f} s (lite)",
            flush=True,
        )
    dices = [r["dice"] for r in rows]
    return {
        "photos": len(rows),
        "dice_median": statistics.median(dices) if dices else None,
        "dice_min": min(dices) if dices else None,
        "max_logit_difference": max((r["max_logit_difference"] for r in rows), default=None),
        "torch_s_per_photo": statistics.median(r["torch_s"] for r in rows) if rows else None,
        "lite_s_per_photo": statistics.median(r["lite_s"] for r in rows) if rows else None,
        "meets_bar": bool(dices) and min(dices) >= BAR,
        "per_photo": rows,
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--carvana", type=int, default=8, help="Carvana val photos (0: none)")
    p.add_argument("--web", type=int, default=16, help="web-cars val photos (0: none)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for each predictor")
    p.add_argument("--data-root", type=Path, default=DATA)
    p.add_argument("--ir", type=Path, help="an exported folder to use (else exported here)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/lite-vs-torch-cpu.json")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # the OpenVINO backend compiles for as many threads
    (model,) = default_model_paths()
    carvana = spread(sorted((args.data_root / "carvana" / "val").glob("*.jpg")), args.carvana)
    web = spread([p.image for p in web_pairs(args.data_root / "web-cars", "val")], args.web)
    if (args.carvana and not carvana) or (args.web and not web):
        print(f"error: no Carvana val or web-cars val photos in {args.data_root}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        ir, export_s = args.ir, None
        if ir is None:
            ir, export_s = timed(export_ir, model, Path(tmp) / "ir")
        full = Predictor([model], device="cpu", precision="fp32", backend="openvino")
        lite = LitePredictor([ir], threads=args.threads)
        print(f"model {model.name}: {full.device_label} against {lite.device_label} (lite)")
        warm = read_rgb(carvana[0] if carvana else web[0])
        full.predict(warm), lite.predict(warm)
        sets = {}
        if carvana:
            sets["carvana_val"] = compare("carvana", carvana, full, lite)
        if web:
            sets["web_cars_val"] = compare("web", web, full, lite)
    report = {
        "what": "LitePredictor (no torch) against Predictor (OpenVINO backend, fp32)",
        "model": model.name,
        "torch_label": full.device_label,
        "lite_label": lite.device_label,
        "threads": args.threads,
        "export_s": export_s,
        "bar": BAR,
        "meets_bar": all(s["meets_bar"] for s in sets.values()),
        "sets": sets,
        "engine": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for name, s in sets.items():
        print(
            f"{name}: {s['photos']} photos, Dice median {s['dice_median']:.6f} min "
            f"{s['dice_min']:.6f}; s/photo torch {s['torch_s_per_photo']:.2f} "
            f"lite {s['lite_s_per_photo']:.2f}"
        )
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0 if report["meets_bar"] else 1


if __name__ == "__main__":
    sys.exit(main())
