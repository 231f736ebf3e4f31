"""Robustness: Dice of several models side by side, in the Carvana studio and beyond it.

Sets (each can be left out with --no-<set>):

- `carvana`: the Carvana val photos at their full 1918x1280 (DATA/carvana/val with
  val_masks/<id>_mask.gif), `--carvana-limit N` of them spread evenly over the set.
- `web`: the fixed validation split of the web photos (`engine.training.scenes.sources.web_pairs`,
  DATA/web-cars, 47 photos at 480x360, never trained on).
- `studios` ("new studios"): Carvana **val** cars (never train cars), cut out with their true
  masks (`make_cutout`, scale 0.75) and composed (`engine.training.scenes.compose.Composer`,
  800x1200
  pixel budget, camera on) into held-out looks: white cyclorama, black studio, coloured wall,
  glossy floor (a random look with its `glossy` forced to 0.35), showroom, street (the
  held-out scene sequence, `find_scenes(..., held_out=True)`), and lot (that street with a
  dealer lot's clutter: val cars parked against the main car, posts, captions, stickers).
  `--studio-photos N` per look. The photos are generated once per run from fixed seeds
  (`default_rng([20261201, look, k])`, apart from any training seed) and every model scores
  the same images; `--save-studios DIR` writes
  them (images/ + masks/, PNG) for inspection.

Every model runs through `engine.inference.predict.Predictor` on the photo at its full size and is
scored
on the mask `carmask predict` writes (`Predictor.predict`), with `engine.training.metrics.dice`.

    python benchmarks/robustness.py --model old=resources/models/cpu-lite0-448x672.safetensors \
        --model new=/work/runs/any-studio/model.safetensors
    python benchmarks/robustness.py --carvana-limit 8 --studio-photos 4     # quick check
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _path in (REPO, HERE):  # run from a checkout without `pip install -e .`; quality.py beside
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import quality  # noqa: E402  (benchmarks/quality.py: model keys, summaries, environment)

from benchmarks.report_files import dump_path, write_report  # noqa: E402
from engine.inference.devices import DEVICE_CHOICES, PRECISION_CHOICES, DeviceError  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import (  # noqa: E402
    ImageReadError,
    read_mask,
    read_rgb,
    save_image_atomic,
)
from engine.modelfiles.checkpoint import ModelFileError  # noqa: E402
from engine.modelfiles.library import NoModelError, default_model_paths  # noqa: E402
from engine.training.metrics import dice  # noqa: E402
from engine.training.pairs import Pair, by_car, find_pairs, load_pair, spread  # noqa: E402
from engine.training.scenes.compose import Composer  # noqa: E402
from engine.training.scenes.cutout import CarCutout, make_cutout  # noqa: E402
from engine.training.scenes.sources import find_scenes, web_pairs  # noqa: E402
from engine.training.scenes.studio import random_look  # noqa: E402

DEFAULT_ROOT = REPO.parent / "shared" / "data"
SETS = ("carvana", "web", "studios")
# the held-out looks, in a fixed order: a look's index is part of its photos' seeds, so leaving
# looks out (--looks) does not change the photos of the others
# "lot" (added later, last, so the six before keep their photos): a held-out street with the
# dealer lot's clutter (`engine.training.scenes.clutter`: val cars parked against the main car,
# posts,
# captions and stickers), every photo cluttered
LOOKS = ("white", "black", "coloured", "glossy", "showroom", "street", "lot")
FIRST_LOOKS = 6  # the car picks' spread over the looks, as it was before "lot" came
SEED = 20261201
# a set's lists with one entry per photo: written to the ignored per-photo dump, not the summary
PER_PHOTO = ("photos", "dice", "seconds", "scored_sha1")
BUDGET = (800, 1200)  # pixel budget of a generated photo (about 1 Mpx, any aspect ratio)
CUTOUT_SCALE = 0.75
GLOSSY = 0.35


@dataclass
class Item:
    """One photo to score: its id, the photo, the truth and what to record about it."""

    id: str
    rgb: np.ndarray
    truth: np.ndarray  # H x W bool
    info: dict


# --- models -------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_specs(args) -> list[tuple[str | None, Path]]:
    """(label or None, path) per model: --model values, else the shipped default."""
    specs = [quality.split_model_arg(m) for m in args.model]
    if not specs:
        specs = [(None, p) for p in default_model_paths()]
    if args.label:
        if len(args.label) != len(specs):
            raise NoModelError(f"{len(args.label)} --label for {len(specs)} models (one each)")
        specs = [(label, path) for label, (_, path) in zip(args.label, specs, strict=True)]
    return [(label, Path(path)) for label, path in specs]


def load_models(specs, device: str, precision: str) -> tuple[list[str], list[Predictor]]:
    """One Predictor per model (each timed on its own); labels unique (header name if none)."""
    predictors = [Predictor([path], device=device, precision=precision) for _, path in specs]
    names = [
        label or p.models[0].header.name for (label, _), p in zip(specs, predictors, strict=True)
    ]
    return quality.model_keys(names), predictors


def model_info(label: str, predictor: Predictor) -> dict:
    lm = predictor.models[0]
    h = lm.header
    return {
        "label": label,
        "name": h.name,
        "file": str(Path(lm.path).resolve()),
        "file_sha256": file_sha256(lm.path),
        "weights_sha256": h.sha256,
        "input_size": list(h.input_size),
        "threshold": h.threshold,
        "encoder": h.arch.encoder,
        "join": h.arch.join,
        "refiner": lm.model.refiner is not None,
        "header_val_dice": h.metrics.get("val_dice"),
    }


# --- sets ---------------------------------------------------------------------------------------


def load_item(pair: Pair, info: dict | None = None) -> Item:
    rgb, truth = read_rgb(pair.image), read_mask(pair.mask)
    if truth.shape != rgb.shape[:2]:
        h, w = rgb.shape[:2]
        raise ImageReadError(
            pair.mask, f"mask is {truth.shape[1]}×{truth.shape[0]} but the photo is {w}×{h}"
        )
    return Item(pair.image.name, rgb, truth, {"size": list(rgb.shape[:2]), **(info or {})})


def carvana_pairs(root: Path) -> list[Pair]:
    report = find_pairs(root / "carvana" / "val", check_content=False)
    return sorted(report.pairs, key=lambda p: str(p.image))


def pair_items(pairs: list[Pair], skipped: list) -> Iterator[Item]:
    for pair in pairs:
        try:
            yield load_item(pair)
        except ImageReadError as exc:
            skipped.append({"path": str(exc.path), "reason": exc.reason})
            print(f"  skipped {exc}", flush=True)


def studio_cars(val: list[Pair], per_look: int) -> dict[tuple[int, int], Pair]:
    """The val photo of each (look index i, photo k). Photo k of a look takes car
    (k·C/N + i) mod C of the C val cars (N = per_look: with N = C every look has every car once,
    and look i starts one car further on than look i-1) and, of that car's A angles, angle
    (k·A/N + i·A/6) mod A: the angles spread over each look's photos, and the looks that take
    the same car take it from different angles."""
    grouped = by_car(val)
    cars = [grouped[c] for c in sorted(grouped)]
    out = {}
    for i in range(len(LOOKS)):
        for k in range(per_look):
            photos = cars[(k * len(cars) // per_look + i) % len(cars)]
            a = len(photos)
            out[(i, k)] = photos[(k * a // per_look + i * max(1, a // FIRST_LOOKS)) % a]
    return out


class Studios:
    """The generated "new studios" photos (deterministic: fixed seeds, fixed car choice)."""

    def __init__(self, val: list[Pair], scenes: list, per_look: int, looks: list[str]):
        self.looks, self.per_look = looks, per_look
        self.cars = studio_cars(val, per_look)
        self.pool = list(val)  # second cars: any val photo, so photo (look, k) of a given car
        # is the same image whatever --studio-photos chose for the other photos
        self._cutouts: dict[Pair, CarCutout] = {}
        self.composer = Composer(self._second_car, scenes, budget=BUDGET, camera=True)
        self.lot = Composer(self._second_car, scenes, budget=BUDGET, camera=True, clutter=1.0)

    def cutout(self, pair: Pair) -> CarCutout:
        if pair not in self._cutouts:
            self._cutouts[pair] = make_cutout(*load_pair(pair), scale=CUTOUT_SCALE)
        return self._cutouts[pair]

    def _second_car(self, rng: np.random.Generator) -> CarCutout:
        """Cars further back (showrooms, streets): val cars too, never train cars."""
        return self.cutout(self.pool[int(rng.integers(len(self.pool)))])

    def make(self, look: str, k: int) -> Item:
        i = LOOKS.index(look)
        pair = self.cars[(i, k)]
        rng = np.random.default_rng([SEED, i, k])
        cut = self.cutout(pair)
        if look == "street":
            c = self.composer.street(rng, cut=cut)
        elif look == "lot":
            c = self.lot.street(rng, cut=cut)
        else:
            style = random_look(rng, None if look == "glossy" else look)
            if look == "glossy":
                style.glossy = GLOSSY  # the rest of the random look (its cove too) as drawn
            c = self.composer.studio(rng, style, cut=cut)
        truth = c.label > 127
        info = {
            "look": look,
            "source": pair.image.name,
            "kind": c.kind,
            "size": list(c.rgb.shape[:2]),
            "sha1": digest(c.rgb, truth),
        }
        return Item(f"{look}_{k:03d}", c.rgb, truth, info)

    def items(self, save: Path | None) -> Iterator[Item]:
        if save is not None:
            for sub in ("images", "masks"):
                (save / sub).mkdir(parents=True, exist_ok=True)
        for look in self.looks:
            for k in range(self.per_look):
                item = self.make(look, k)
                if save is not None:
                    save_image_atomic(save / "images" / f"{item.id}.png", item.rgb, "PNG")
                    save_image_atomic(save / "masks" / f"{item.id}.png", item.truth, "PNG")
                yield item


# --- measurement --------------------------------------------------------------------------------


def digest(rgb: np.ndarray, truth: np.ndarray) -> str:
    return hashlib.sha1(rgb.tobytes() + truth.tobytes()).hexdigest()


def score_set(name, items: Iterator[Item], total: int, labels, predictors, quiet) -> dict:
    """Each photo is loaded (or generated) once and scored by every model in turn (the order
    rotates from photo to photo, so background load falls on all models alike)."""
    photos, dices, secs, seen = [], {k: [] for k in labels}, {k: [] for k in labels}, {}
    prep, start = 0.0, time.perf_counter()
    every = max(1, total // 10)
    t0 = time.perf_counter()
    for n, item in enumerate(items, 1):
        prep += time.perf_counter() - t0
        photos.append({"id": item.id, **item.info})
        order = list(range(len(labels)))
        order = order[n % len(order) :] + order[: n % len(order)]
        for j in order:
            label = labels[j]
            t = time.perf_counter()
            mask = predictors[j].predict(item.rgb)
            secs[label].append(time.perf_counter() - t)
            dices[label].append(dice(mask, item.truth))
            seen.setdefault(label, []).append(digest(item.rgb, item.truth))
        if not quiet and (n % every == 0 or n == total):
            means = ", ".join(f"{k} {np.mean(dices[k]):.5f}" for k in labels)
            elapsed = time.perf_counter() - start
            print(f"  {name}: {n:>4}/{total}, {elapsed:6.1f} s; {means}", flush=True)
        t0 = time.perf_counter()
    return {"photos": photos, "dice": dices, "seconds": secs, "scored_sha1": seen, "prep": prep}


def scores(ids: list[str], dices: list[float], secs: list[float]) -> dict:
    out = quality.summary(ids, dices) if dices else {"mean_dice": None}
    worst = out.pop("worst", [])
    return {
        **out,
        "n": len(dices),
        "seconds_per_photo": float(np.mean(secs)) if secs else None,
        "worst": [{"id": w["photo"], "dice": w["dice"]} for w in worst],
    }


def set_report(raw: dict, labels, extra: dict) -> dict:
    ids = [p["id"] for p in raw["photos"]]
    rep = {
        **extra,
        "n": len(ids),
        "prepare_seconds": raw["prep"],  # reading (or generating) the photos, once for all
        "photos": raw["photos"],
        "scores": {k: scores(ids, raw["dice"][k], raw["seconds"][k]) for k in labels},
        "dice": raw["dice"],
        "seconds": raw["seconds"],
    }
    return rep


def per_look(raw: dict, labels, looks) -> dict:
    out = {}
    for look in looks:
        idx = [i for i, p in enumerate(raw["photos"]) if p["look"] == look]
        ids = [raw["photos"][i]["id"] for i in idx]
        out[look] = {
            "n": len(idx),
            "scores": {
                k: scores(
                    ids, [raw["dice"][k][i] for i in idx], [raw["seconds"][k][i] for i in idx]
                )
                for k in labels
            },
        }
    return out


# --- output -------------------------------------------------------------------------------------


def _cell(s: dict) -> str:
    if s.get("mean_dice") is None:
        return f"{'-':>8} {'-':>8} {'-':>8} {'-':>6}"
    return (
        f"{s['mean_dice']:>8.5f} {s['median_dice']:>8.5f} {s['min_dice']:>8.5f} "
        f"{s['seconds_per_photo']:>6.3f}"
    )


def print_table(report: dict) -> None:
    labels = [m["label"] for m in report["models"]]
    width = 33
    print(f"{'':<16} {'':>4} " + " ".join(f"{k[:width]:^{width}}" for k in labels))
    cols = f"{'mean':>8} {'median':>8} {'min':>8} {'s/ph':>6}"
    header = f"{'set':<16} {'n':>4} " + " ".join(cols for _ in labels)
    print(header)
    print("-" * len(header))
    for name, s in report["sets"].items():
        print(f"{name:<16} {s['n']:>4} " + " ".join(_cell(s["scores"][k]) for k in labels))
        for look, ls in s.get("looks", {}).items():
            print(
                f"{'  ' + look:<16} {ls['n']:>4} "
                + " ".join(_cell(ls["scores"][k]) for k in labels)
            )


def default_out(labels: list[str]) -> Path:
    tag = "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", k) for k in labels)
    return REPO / "benchmarks" / "results" / f"robustness-{tag}.json"


# --- command line -------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-root", default=str(DEFAULT_ROOT), help="holds carvana/, web-cars/, scenes/"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[LABEL=]FILE",
        help="a model to score (repeat for more); default: the shipped default model",
    )
    p.add_argument("--label", action="append", default=[], help="labels, one per --model, in order")
    for name in SETS:
        p.add_argument(
            f"--{name}", action=argparse.BooleanOptionalAction, default=True, help=f"the {name} set"
        )
    p.add_argument("--carvana-limit", type=quality._positive, help="N val photos spread evenly")
    p.add_argument("--studio-photos", type=quality._positive, default=16, help="photos per look")
    p.add_argument("--looks", default=",".join(LOOKS), help=f"studio looks ({','.join(LOOKS)})")
    p.add_argument("--save-studios", metavar="DIR", help="write the generated photos and masks")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    p.add_argument(
        "--precision", choices=PRECISION_CHOICES, default="auto", help="as for carmask predict"
    )
    p.add_argument("--threads", type=quality._positive, help="torch CPU threads")
    p.add_argument(
        "--json",
        "--out",
        dest="json",
        help="JSON path (default benchmarks/results/robustness-<labels>.json)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    args.looks = [s.strip() for s in args.looks.split(",") if s.strip()]
    unknown = [s for s in args.looks if s not in LOOKS]
    if unknown or not args.looks:
        p.error(f"--looks: unknown {unknown}; choose from {', '.join(LOOKS)}")
    return args


def _warm_up(predictors: list[Predictor]) -> None:
    """One untimed photo per model (first-call set-up is not a photo's time)."""
    rgb = np.full((1280, 1918, 3), 128, np.uint8)
    for p in predictors:
        p.predict(rgb)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.data_root)
    try:
        specs = model_specs(args)
        labels, predictors = load_models(specs, args.device, args.precision)
    except (NoModelError, ModelFileError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    val = carvana_pairs(root) if args.carvana or args.studios else []
    web = web_pairs(root / "web-cars", "val") if args.web else []
    scenes = find_scenes(root / "scenes", held_out=True) if args.studios else []
    problems = []
    if (args.carvana or args.studios) and not val:
        problems.append(f"no Carvana val photos with masks in {root / 'carvana' / 'val'}")
    if args.web and not web:
        problems.append(f"no web validation photos in {root / 'web-cars'}")
    if args.studios and {"street", "lot"} & set(args.looks) and not scenes:
        problems.append(f"no held-out street scenes in {root / 'scenes'} (or leave out the look)")
    if problems:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1

    device_label = predictors[0].device_label
    print(f"device: {device_label}", flush=True)
    for label, p in zip(labels, predictors, strict=True):
        print(f"model {label}: {p.models[0].path} ({p.label})", flush=True)
    _warm_up(predictors)

    sets: dict[str, dict] = {}
    start = time.perf_counter()
    if args.carvana:
        chosen, skipped = spread(val, args.carvana_limit), []
        raw = score_set(
            "carvana", pair_items(chosen, skipped), len(chosen), labels, predictors, args.quiet
        )
        sets["carvana"] = set_report(
            raw,
            labels,
            {"source": str(root / "carvana" / "val"), "found": len(val), "skipped": skipped},
        )
    if args.web:
        skipped = []
        raw = score_set("web", pair_items(web, skipped), len(web), labels, predictors, args.quiet)
        sets["web"] = set_report(
            raw, labels, {"source": str(root / "web-cars"), "split": "val", "skipped": skipped}
        )
    if args.studios:
        studios = Studios(val, scenes, args.studio_photos, args.looks)
        save = Path(args.save_studios) if args.save_studios else None
        total = args.studio_photos * len(args.looks)
        raw = score_set("studios", studios.items(save), total, labels, predictors, args.quiet)
        extra = {
            "looks_order": args.looks,
            "cars_from": str(root / "carvana" / "val"),
            "scenes": [s.image.name for s in scenes] if {"street", "lot"} & set(args.looks) else [],
            "scored_sha1": raw["scored_sha1"],
        }
        sets["studios"] = set_report(raw, labels, extra)
        sets["studios"]["looks"] = per_look(raw, labels, args.looks)
    seconds = time.perf_counter() - start

    report = {
        "benchmark": "robustness",
        "environment": quality.environment(predictors[0]),
        "settings": {
            "argv": list(sys.argv[1:] if argv is None else argv),
            "data_root": str(root.resolve()),
            "sets": list(sets),
            "carvana_limit": args.carvana_limit,
            "studio_photos": args.studio_photos,
            "looks": args.looks,
            "seed": SEED,
            "studio_budget": list(BUDGET),
            "cutout_scale": CUTOUT_SCALE,
            "glossy": GLOSSY,
            "device": args.device,
            "precision": args.precision,
            "threads": torch.get_num_threads(),
        },
        "seconds": seconds,
        "models": [model_info(k, p) for k, p in zip(labels, predictors, strict=True)],
        "sets": sets,
    }
    print()
    print_table(report)
    print(f"\n{len(labels)} models in {seconds:.1f} s; device {device_label}")

    out = Path(args.json) if args.json else default_out(labels)
    per_photo = [("sets", name, key) for name in sets for key in PER_PHOTO if key in sets[name]]
    write_report(out, report, per_photo)  # the per-photo lists: an ignored dump beside it
    print(f"wrote {out} (per photo: {dump_path(out)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
