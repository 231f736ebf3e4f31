"""`carmask evaluate`: mean Dice against ground-truth masks."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.batch.intake import find_photos
from engine.cli.common import predict_config
from engine.inference.ensemble import combine
from engine.io import (
    ImageReadError,
    read_mask,
    read_rgb,
)
from engine.io.console import say
from engine.training.metrics import dice


def find_mask_for(image: Path, masks_dir: Path) -> Path | None:
    """`X.jpg` ↔ `X_mask.gif` / `X_mask.png` / `X.png` (and other image suffixes) in masks_dir."""
    for name in (f"{image.stem}_mask", image.stem):
        for ext in (".gif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg"):
            candidate = masks_dir / f"{name}{ext}"
            if candidate.is_file():
                return candidate
    return None


def cmd_evaluate(args) -> int:
    for flag, folder in (("--images", args.images), ("--masks", args.masks)):
        if not Path(folder).is_dir():
            print(f"error: {flag} {folder}: no such folder")
            return 2
    images = find_photos([args.images]).photos  # not CarMask's outputs, not X_mask beside X
    masks_dir = Path(args.masks)
    from engine.inference.editions import predictor_from_config

    config = predict_config(args)
    paths = config.models
    members = [predictor_from_config(replace(config, models=(p,))) for p in paths]
    say(f"device: {members[0].device_label}")
    scores: dict[str, list[float]] = {str(p): [] for p in paths}
    ens: list[float] = []
    problems = []
    for path in tqdm(images, desc="evaluate", unit="photo", disable=args.quiet, file=sys.stderr):
        mask_path = find_mask_for(path, masks_dir)
        if mask_path is None:
            problems.append((path, "no mask found"))
            continue
        try:
            rgb, truth = read_rgb(path), read_mask(mask_path)
        except ImageReadError as exc:
            problems.append((exc.path, exc.reason))
            continue
        if truth.shape != rgb.shape[:2]:
            (h, w), (mh, mw) = rgb.shape[:2], truth.shape
            problems.append((mask_path, f"mask is {mw}×{mh}, its photo {w}×{h}"))
            continue
        probs = []
        for p, m in zip(paths, members, strict=True):
            prob = m.probabilities(rgb)[0]
            probs.append(prob)
            # scored as `carmask predict` writes it: the main car (engine.matte.select)
            main = m.main_object(prob > m.models[0].header.threshold)[0]
            scores[str(p)].append(dice(main, truth))
        if len(paths) > 1:
            thresholds = [m.models[0].header.threshold for m in members]
            vote = members[0].main_object(combine(probs, thresholds, config.vote))[0]
            ens.append(dice(vote, truth))
    if not any(scores.values()):
        print("no photo could be evaluated")
        for path, reason in problems:
            print(f"  {path}: {reason}")
        return 1
    for name, s in scores.items():
        print(f"{Path(name).name}: mean Dice {np.mean(s):.5f} over {len(s)} photos")
    if ens:
        print(f"ensemble ({config.vote} vote): mean Dice {np.mean(ens):.5f} over {len(ens)} photos")
    for path, reason in problems:
        print(f"  skipped: {path}: {reason}")
    return 0
