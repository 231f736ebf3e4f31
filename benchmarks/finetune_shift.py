"""Does fine-tuning help a studio? A benchmark on a simulated studio change, or on real photos.

A "new studio" is built from real Carvana photos: each car is cut out with its hand-made mask
and put on a different set: a dark wall, a coloured floor and a soft floor shadow under the car
(background, not car), with warmer, dimmer light on the car. From it:

- fine-tuning data: `--tune-cars` train cars × `--tune-angles` angles (32 labelled photos by
  default), split by car as the wizard does (`--val-share`);
- test data: all 16 angles of `--test-cars` val cars the model never saw, at full 1918×1280.

With `--studio carvana` the photos are the real Carvana photos as they are (one real setting:
the Carvana turntable studio): 32 labelled photos to fine-tune on, the test cars' photos to
score. The shipped any-studio default was trained on other cars of that studio, so this is a
studio the model knows, not a new one; it measures whether 32 of a studio's own photos bring
the general model to that studio's level within the wizard's time. `--reference FILE` scores
other models (e.g. the Carvana-only `cpu-lite0-448x672`) on the same test photos for context.

It prints the Dice of the base model (the shipped default unless `--model`) on the test cars,
in the original Carvana studio and in the new one, then fine-tunes it with the wizard's recipe
(`engine.training.finetune.finetune_config`: all layers, and with `--decoder-only` also the decoder
alone)
and prints the fine-tuned Dice on the same test photos and the time it took, and writes JSON.

    python benchmarks/finetune_shift.py                        # CPU, about 10 minutes
    python benchmarks/finetune_shift.py --device cuda \
        --out benchmarks/results/finetune-shift-gpu.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine import __version__  # noqa: E402
from engine.inference.devices import describe_device, resolve_device  # noqa: E402
from engine.io import atomic_write_bytes, save_image_atomic  # noqa: E402
from engine.modelfiles.library import default_model_paths  # noqa: E402
from engine.training.finetune import compare, finetune_config, steps_for  # noqa: E402
from engine.training.pairs import (  # noqa: E402
    Pair,
    by_car,
    find_pairs,
    load_pair,
    split_by_car,
    spread,
)
from engine.training.trainer import Trainer  # noqa: E402

CARVANA = REPO.parent / "shared" / "data" / "carvana"


# --- the new studio -----------------------------------------------------------------------------


def new_studio(rgb: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
    """The car (its hand-made mask) on a dark wall and a coloured floor, with a soft shadow on
    the floor under it and warmer, dimmer light. The label stays the car's mask."""
    rng = np.random.default_rng(seed)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    horizon = int(top + 0.55 * (bottom - top) + rng.uniform(-0.03, 0.03) * h)
    y = np.arange(h, dtype=np.float32)[:, None]
    wall = np.array([38, 40, 48], np.float32) * (1.15 - 0.35 * y / h)  # dark, lit from above
    hue = rng.uniform(-12, 12, 3)
    floor_colour = np.array([150, 70, 45], np.float32) + hue  # terracotta
    depth = np.clip((y - horizon) / max(1, h - horizon), 0, 1)
    floor = floor_colour * (0.55 + 0.45 * depth)
    backdrop = np.where((y < horizon)[..., None], wall[:, None, :], floor[:, None, :])
    backdrop = np.broadcast_to(backdrop, (h, w, 3)).astype(np.float32)
    noise = rng.normal(0, 3, (h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    backdrop += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    # a soft shadow on the floor under the car: background, darker
    shadow = np.zeros((h, w), np.float32)
    cx, cy = (left + right) // 2, bottom - int(0.02 * h)
    axes = (int(0.6 * (right - left)), int(0.09 * (bottom - top)) + 8)
    cv2.ellipse(shadow, (int(cx), int(cy)), axes, 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), sigmaX=0.04 * w)
    backdrop *= (1 - 0.7 * shadow / max(shadow.max(), 1e-6))[..., None]
    # warmer, dimmer light on the car
    light = np.array([1.04, 0.93, 0.78], np.float32) * rng.uniform(0.72, 0.85)
    car = rgb.astype(np.float32) * light
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)[..., None]
    out = alpha * car + (1 - alpha) * backdrop
    return np.clip(out, 0, 255).astype(np.uint8)


def build(pairs: list[Pair], folder: Path, seed: int) -> list[Pair]:
    """Write the new-studio photos (JPEG q92) and their masks (PNG) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, pair in enumerate(pairs):
        photo, mask_file = folder / f"{pair.image.stem}.jpg", folder / f"{pair.image.stem}_mask.png"
        if not (photo.exists() and mask_file.exists()):
            rgb, mask = load_pair(pair)
            save_image_atomic(photo, new_studio(rgb, mask, seed + i), "JPEG", quality=92)
            save_image_atomic(mask_file, mask, "PNG", compress_level=1)
        out.append(Pair(photo, mask_file, pair.car))
    return out


def pick(pairs: list[Pair], cars: int, angles: int, seed: int) -> list[Pair]:
    """`angles` angles (spread over the 16) of `cars` cars picked at random with `seed`."""
    grouped = by_car(pairs)
    names = sorted(grouped)
    rng = np.random.default_rng(seed)
    chosen = [names[i] for i in sorted(rng.choice(len(names), cars, replace=False))]
    out = []
    for car in chosen:
        out += spread(sorted(grouped[car], key=lambda p: p.image.name), angles)
    return out


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(CARVANA), help="Carvana folder (train/ and val/)")
    ap.add_argument("--model", help="base model (default: the shipped default)")
    ap.add_argument("--tune-cars", type=int, default=4)
    ap.add_argument("--tune-angles", type=int, default=8)
    ap.add_argument("--test-cars", type=int, default=4)
    ap.add_argument("--val-share", type=float, default=0.2, help="as the wizard's default")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--decoder-only", action="store_true", help="also fine-tune the decoder only")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--studio",
        choices=("new", "carvana"),
        default="new",
        help="new: the simulated studio change; carvana: the real photos as they are",
    )
    ap.add_argument("--reference", action="append", default=[], help="also score this model")
    ap.add_argument("--work", default="/tmp/carmask-finetune-shift", help="composited photos")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "finetune-shift.json"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    base = Path(args.model) if args.model else default_model_paths()[0]
    work = Path(args.work)
    print(f"device: {describe_device(device)}; base model: {base.name}")

    t0 = time.time()
    # the picked photos are decoded by build() anyway: no content check of all of them here
    train_pairs = find_pairs(Path(args.data) / "train", check_content=False).pairs
    val_pairs = find_pairs(Path(args.data) / "val", check_content=False).pairs
    tune_src = pick(train_pairs, args.tune_cars, args.tune_angles, args.seed)
    test_src = pick(val_pairs, args.test_cars, 16, args.seed)
    if args.studio == "carvana":
        tune, test = tune_src, test_src  # real photos of one setting, as they are
    else:
        tune = build(tune_src, work / "tune", args.seed)
        test = build(test_src, work / "test", args.seed + 10_000)
    train, val = split_by_car(tune, args.val_share, args.seed)
    print(
        f"{args.studio} studio: {len(tune)} labelled photos of {args.tune_cars} cars to fine-tune "
        f"on ({len(train)} to learn from, {len(val)} held back), {len(test)} test photos of "
        f"{args.test_cars} other cars; built in {time.time() - t0:.0f} s"
    )

    def score(models: list[Path], pairs: list[Pair]) -> list[float]:
        c = compare(models, pairs, str(device), examples=0)
        return [c.mean(i) for i in range(len(models))]

    original = score([base], test_src)[0]
    if args.studio == "carvana":  # the test photos are the originals
        shifted = original
        print(f"base model on the test cars: {original:.5f}")
    else:
        shifted = score([base], test)[0]
        print(f"base model on the test cars: Carvana studio {original:.5f}, new {shifted:.5f}")
    references = {Path(r).name: score([Path(r)], test)[0] for r in args.reference}
    for name, dice in references.items():
        print(f"reference {name} on the same test photos: {dice:.5f}")

    runs = {}
    work.mkdir(parents=True, exist_ok=True)  # the fine-tuned model files
    variants = [("all layers", False)] + ([("decoder only", True)] if args.decoder_only else [])
    for label, decoder_only in variants:
        cfg = finetune_config(
            base,
            decoder_only=decoder_only,
            epochs=args.epochs,
            batch_size=args.batch_size,
            device=str(device),
            threads=args.threads,
            name=f"finetune-shift {label}",
        )
        cfg.out = str(work / f"tuned-{'decoder' if decoder_only else 'all'}.safetensors")
        cfg.train_pairs = [p.to_dict() for p in train]
        cfg.val_pairs = [p.to_dict() for p in val]
        cfg.seed = args.seed
        Path(cfg.out).unlink(missing_ok=True)
        t = time.time()
        result = Trainer(cfg).run()
        seconds = time.time() - t
        tuned = score([Path(cfg.out)], test)[0]
        runs[label] = {
            "test_dice": tuned,
            "gain": tuned - shifted,
            "train_seconds": round(seconds, 1),
            "steps": steps_for(cfg, len(train)),
            "best_val_dice": result.best_val_dice,
            "lr": cfg.lr,
        }
        print(
            f"fine-tuned ({label}): {args.studio} studio {tuned:.5f} ({tuned - shifted:+.5f}); "
            f"{seconds:.0f} s of training on {describe_device(device)}"
        )

    report = {
        "benchmark": "finetune_shift",
        "version": __version__,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "device": describe_device(device),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "base_model": base.name,
        "studio": args.studio,
        "references": references,
        "tune_photos": len(tune),
        "train_photos": len(train),
        "val_photos": len(val),
        "test_photos": len(test),
        "tune_cars": sorted({p.car for p in tune}),
        "test_cars": sorted({p.car for p in test}),
        "recipe": {"epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "adamw"},
        "base_dice_carvana_studio": original,
        "base_dice_new_studio": shifted,
        "finetuned": runs,
    }
    atomic_write_bytes(args.out, json.dumps(report, indent=1).encode())
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
