"""Does fine-tuning help on real photos of a new setting? Fine-tune on web photos, score the rest.

The new setting is the web photos (`DATA/web-cars`: dealer and stock photos, white sweeps to
streets and showrooms, 480x360), with the fixed split of `engine.training.scenes.sources.web_pairs`:

- fine-tuning data: the `train` split (60 photos); `--val-share` of them (15 %, by photo: one
  car per photo) are held back for the Trainer's own validation, which picks the epoch kept
  (the best, as the wizard does; the last with `--keep-last`);
- test data: the `val` split (47 photos, never trained on), at their own size.

For each base model (the shipped default, plus any `--model [LABEL=]FILE`) it scores the web
test photos and `--carvana-check` Carvana val photos (full 1918x1280, spread over the set)
before fine-tuning; then for each `--recipe` it fine-tunes a copy with the wizard's recipe
(`engine.training.finetune.finetune_config`: AdamW, cosine, batch 8, at the base model's input
size, all
layers at lr 3e-4 or the decoder alone at 1e-3), on random 256x384 crops, and scores the result
on the same photos: what it gains on the web photos, and what it loses in the Carvana studio.

Recipes:
- `decoder-4`: the decoder only, 4 epochs (the wizard's old choice);
- `all-8`: all layers, 8 epochs;
- `all-8-carvana`: all layers, 8 epochs, with Carvana train photos mixed in 1:1 (each epoch
  twice as long, so the web photos are seen as often as in `all-8`).

The training photos go through the scene-composition dataset's real-photo path
(`TrainConfig.compose`, mix `photo` 1, `carvana` 0 or 1, no studios or streets): it resizes a
photo to the model's pixel budget with the photo's own aspect ratio, as `Predictor` does at test
time. (`engine.training.data.PairDataset` would squash a 4:3 web photo to the model's 3:2 input
size.)
Every model is scored through `engine.inference.predict.Predictor` with
`engine.training.metrics.dice` (via
`engine.training.finetune.compare`, as the wizard's comparison page does).

    python benchmarks/finetune_real.py --device cpu --threads 2                 # all recipes
    python benchmarks/finetune_real.py --recipe all-8 --max-steps 2 --carvana-check 2 \
        --json /tmp/finetune-real.json                                          # smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _path in (REPO, HERE):  # run from a checkout without `pip install -e .`; quality.py beside
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import quality  # noqa: E402  (benchmarks/quality.py: model keys, summaries, environment)

from engine.inference.devices import DEVICE_CHOICES, DeviceError, resolve_device  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import atomic_write_bytes  # noqa: E402
from engine.modelfiles.checkpoint import ModelFileError  # noqa: E402
from engine.modelfiles.header import read_header  # noqa: E402
from engine.modelfiles.library import NoModelError, default_model_paths  # noqa: E402
from engine.training.finetune import compare, finetune_config  # noqa: E402
from engine.training.pairs import Pair, find_pairs, split_by_car, spread  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402

DEFAULT_ROOT = REPO.parent / "shared" / "data"
CROP = (256, 384)  # (h, w) crops at the model's scale, as the shipped default was trained on


@dataclass(frozen=True)
class Recipe:
    decoder_only: bool
    epochs: int
    carvana: float  # Carvana train photos per web photo in the mix (0: web photos only)
    description: str


RECIPES = {
    "decoder-4": Recipe(True, 4, 0.0, "decoder only, 4 epochs (the wizard's old choice)"),
    "all-8": Recipe(False, 8, 0.0, "all layers, 8 epochs"),
    "all-8-carvana": Recipe(
        False, 8, 1.0, "all layers, 8 epochs, Carvana train photos mixed in 1:1"
    ),
}


# --- inputs -------------------------------------------------------------------------------------


def model_specs(args) -> list[tuple[str, Path]]:
    """(label, file) per base model: the shipped default (unless --no-default), then --model
    `LABEL=FILE` or `FILE` (labelled by its header name); labels made unique."""
    specs: list[tuple[str | None, Path]] = []
    if args.default:
        specs += [("default", p) for p in default_model_paths()]
    for text in args.model:
        label, path = quality.split_model_arg(text)
        specs.append((label, Path(path)))
    if not specs:
        raise NoModelError("no base model: leave out --no-default or give --model FILE")
    names = [label or read_header(path).name for label, path in specs]
    return list(zip(quality.model_keys(names), [path for _, path in specs], strict=True))


def scale_epochs(epochs: int, scale: float) -> int:
    return max(1, math.ceil(epochs * scale - 1e-9))


def crop_for(input_size: tuple[int, int], crop: tuple[int, int]) -> tuple[int, int]:
    """The crop, never larger than the model's input size."""
    return min(crop[0], input_size[0]), min(crop[1], input_size[1])


# --- measurement --------------------------------------------------------------------------------


def score(model: Path, pairs: list[Pair], device: str) -> dict:
    """Per-photo Dice at the photo's own size, and mean / median / min / worst."""
    if not pairs:
        return {"n": 0, "mean_dice": None, "dice": [], "seconds": 0.0}
    t = time.perf_counter()
    c = compare([model], pairs, device, examples=0)
    seconds = time.perf_counter() - t
    ids = [p.image.name for p in c.pairs]
    dices = [s[0] for s in c.scores]
    return {"n": len(ids), **quality.summary(ids, dices), "dice": dices, "seconds": seconds}


class Progress:
    """Trainer events: per-epoch validation, step times; a line per epoch unless quiet."""

    def __init__(self, prefix: str, quiet: bool):
        self.prefix, self.quiet = prefix, quiet
        self.epochs: list[dict] = []
        self.last_step = None
        self.steps: list[tuple[int, float]] = []  # (epoch, when the step ended)

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "step":
            self.steps.append((event["epoch"], time.perf_counter()))
            self.last_step = event
        elif kind == "epoch":
            self.epochs.append(
                {
                    "epoch": event["epoch"],
                    "val_dice": event["val_dice"],
                    "step": event["global_step"],
                }
            )
            if not self.quiet:
                total = self.last_step["loss"]["total"] if self.last_step else float("nan")
                print(
                    f"  {self.prefix}: epoch {event['epoch']}/{event['epochs']}, "
                    f"step {event['global_step']}, loss {total:.4f}, "
                    f"held-back Dice {event['val_dice']:.5f}",
                    flush=True,
                )
        elif kind == "log" and not self.quiet:
            print(f"  {self.prefix}: {event.get('message')}", flush=True)


def finetune(
    base: Path,
    recipe_name: str,
    learn: list[Pair],
    held_back: list[Pair],
    carvana_train: list[Pair],
    args,
    out: Path,
    quiet: bool,
) -> tuple[dict, Path]:
    recipe = RECIPES[recipe_name]
    header = read_header(base)
    cfg = finetune_config(
        base,
        decoder_only=recipe.decoder_only,
        epochs=scale_epochs(recipe.epochs, args.epochs_scale),
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads or 0,
        name=f"{header.name} finetune-real {recipe_name}",
    )
    cfg.out = str(out)
    cfg.seed = args.seed
    cfg.max_steps = args.max_steps or 0
    cfg.keep_last = args.keep_last
    cfg.crop_size = crop_for(tuple(header.input_size), args.crop)
    epoch_size = round(len(learn) * (1 + recipe.carvana))
    # the composed dataset takes its Carvana item i from cars[i % len(cars)]: one Carvana photo
    # per index, spread over the cars and angles (about half of them drawn each epoch); with mix
    # carvana 0 none is drawn, but the dataset wants some
    cars = spread(carvana_train, epoch_size) if recipe.carvana else learn
    cfg.compose = {
        "photos": [p.to_dict() for p in learn],
        "mix": {"studio": 0.0, "street": 0.0, "carvana": recipe.carvana, "photo": 1.0},
        "epoch_size": epoch_size,
        "cache_dir": str(out.parent / "cache"),
    }
    out.unlink(missing_ok=True)
    progress = Progress(recipe_name, quiet)
    t = time.perf_counter()
    result = Trainer(cfg, progress, train_pairs=cars, val_pairs=held_back).run()
    seconds = time.perf_counter() - t
    # a step's time: loading its batch and the step, between two steps of the same epoch
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(progress.steps) if a[0] == b[0]]
    info = {
        "recipe": recipe_name,
        "description": recipe.description,
        "decoder_only": recipe.decoder_only,
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "optimizer": cfg.optimizer,
        "schedule": cfg.schedule,
        "batch_size": cfg.batch_size,
        "crop_size": list(cfg.crop_size),
        "input_size": list(cfg.input_size),
        "carvana_per_web_photo": recipe.carvana,
        "carvana_photos": len(cars) if recipe.carvana else 0,
        "epoch_items": epoch_size,
        "steps": result.steps_done,
        "epochs_done": result.epochs_done,
        "train_seconds": round(seconds, 1),  # the whole Trainer.run: steps and validations
        "step_seconds_median": round(statistics.median(gaps), 3) if gaps else None,
        "best_val_dice": result.best_val_dice,
        "val_history": progress.epochs,
        "kept": "last" if args.keep_last or not held_back else "best held-back Dice",
        "model_file": str(out),
    }
    return info, out


# --- output -------------------------------------------------------------------------------------


def _f(v, spec=".5f", width=8) -> str:
    """`v` right-aligned in `width` as `spec` says ("+.5f": with its sign); "-" for None."""
    if v is None:
        return f"{'-':>{width}}"
    sign, spec = ("+", spec[1:]) if spec.startswith("+") else ("", spec)
    return format(v, f">{sign}{width}{spec}")


def print_table(report: dict) -> None:
    header = (
        f"{'model':<18} {'recipe':<14} {'steps':>5} {'train s':>7}  {'web mean':>8} "
        f"{'median':>8} {'min':>8} {'gain':>8}  {'carvana':>8} {'change':>8}"
    )
    print(header)
    print("-" * len(header))
    for m in report["models"]:
        base = m["base"]
        bw, bc = base["web"]["mean_dice"], base["carvana"]["mean_dice"]
        rows = [("base", None, base)] + [(r, r, m["finetuned"][r]) for r in m["finetuned"]]
        for name, recipe, row in rows:
            w, c = row["web"], row["carvana"]
            steps = row.get("steps") if recipe else None
            secs = row.get("train_seconds") if recipe else None
            gain = w["mean_dice"] - bw if recipe and bw is not None else None
            change = c["mean_dice"] - bc if recipe and bc is not None else None
            print(
                f"{m['label'][:18]:<18} {name:<14} {_f(steps, 'd', 5)} {_f(secs, '.0f', 7)}  "
                f"{_f(w['mean_dice'])} {_f(w.get('median_dice'))} {_f(w.get('min_dice'))} "
                f"{_f(gain, '+.5f')}  {_f(c['mean_dice'])} {_f(change, '+.5f')}"
            )


def default_out(device: torch.device) -> Path:
    return REPO / "benchmarks" / "results" / f"finetune-real-{device.type}.json"


# --- command line -------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("give HxW, e.g. 256x384") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError("sides must be at least 1")
    return h, w


def _share(text: str) -> float:
    v = float(text)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1)")
    return v


def _scale(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return v


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=str(DEFAULT_ROOT), help="holds web-cars/ and carvana/")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[LABEL=]FILE",
        help="another base model (repeat for more); the shipped default comes first",
    )
    p.add_argument(
        "--default",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include the shipped default model (label 'default')",
    )
    p.add_argument(
        "--recipe",
        action="append",
        choices=list(RECIPES),
        help=f"recipe to run (repeat for more; default all: {', '.join(RECIPES)})",
    )
    p.add_argument(
        "--epochs-scale", type=_scale, default=1.0, help="multiply every recipe's epochs"
    )
    p.add_argument("--max-steps", type=quality._positive, help="stop each fine-tune after N steps")
    p.add_argument("--batch-size", type=quality._positive, default=8)
    p.add_argument("--crop", type=_size, default=CROP, help="training crop HxW (default 256x384)")
    p.add_argument(
        "--val-share",
        type=_share,
        default=0.15,
        help="web train photos held back for the Trainer's validation (0: none, keep the last)",
    )
    p.add_argument("--keep-last", action="store_true", help="keep the last epoch, not the best")
    p.add_argument(
        "--carvana-check",
        type=int,
        default=32,
        metavar="N",
        help="Carvana val photos (full size, spread over the set) scored before and after; 0: none",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    p.add_argument("--threads", type=quality._positive, help="torch CPU threads")
    p.add_argument(
        "--work", default="/tmp/carmask-finetune-real", help="fine-tuned models, resized photos"
    )
    p.add_argument(
        "--json",
        "--out",
        dest="json",
        help="JSON path (default benchmarks/results/finetune-real-<cpu|cuda>.json)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    args.recipe = list(dict.fromkeys(args.recipe or RECIPES))
    if args.carvana_check < 0:
        p.error("--carvana-check must be 0 or more")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.data_root)
    try:
        device = resolve_device(args.device)
        specs = model_specs(args)
    except (NoModelError, ModelFileError, DeviceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.device = str(device)

    web_train = web_pairs(root / "web-cars", "train")
    web_val = web_pairs(root / "web-cars", "val")
    carvana_val = sorted(
        find_pairs(root / "carvana" / "val", check_content=False).pairs, key=lambda p: str(p.image)
    )
    need_carvana = any(RECIPES[r].carvana for r in args.recipe)
    carvana_train = (
        sorted(
            find_pairs(root / "carvana" / "train", check_content=False).pairs,
            key=lambda p: str(p.image),
        )
        if need_carvana
        else []
    )
    problems = []
    if len(web_train) < 2:
        problems.append(f"fewer than 2 web train photos in {root / 'web-cars'}")
    if not web_val:
        problems.append(f"no web validation photos in {root / 'web-cars'}")
    if args.carvana_check and not carvana_val:
        problems.append(f"no Carvana val photos with masks in {root / 'carvana' / 'val'}")
    if need_carvana and not carvana_train:
        problems.append(f"no Carvana train photos with masks in {root / 'carvana' / 'train'}")
    if problems:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1

    if args.val_share:
        learn, held_back = split_by_car(web_train, args.val_share, args.seed)  # by photo
    else:
        learn, held_back = list(web_train), []
    check = spread(carvana_val, args.carvana_check) if args.carvana_check else []
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    probe = Predictor([specs[0][1]], device=args.device)  # the environment's device label
    env = quality.environment(probe)
    del probe
    print(f"device: {env['device_label']}", flush=True)
    print(
        f"web photos: {len(learn)} to learn from, {len(held_back)} held back, {len(web_val)} "
        f"test; Carvana check: {len(check)} val photos; recipes: {', '.join(args.recipe)}",
        flush=True,
    )

    start = time.perf_counter()
    models = []
    training_label = None
    for label, path in specs:
        header = read_header(path)
        print(
            f"model {label}: {path} ({header.name}, {header.input_size[0]}x{header.input_size[1]})"
        )
        base = {
            "web": score(path, web_val, args.device),
            "carvana": score(path, check, args.device),
        }
        print(
            f"  base: web {_f(base['web']['mean_dice']).strip()}, "
            f"Carvana {_f(base['carvana']['mean_dice']).strip()}",
            flush=True,
        )
        tuned = {}
        for name in args.recipe:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
            out = work / f"{safe}-{name}.safetensors"
            info, out = finetune(path, name, learn, held_back, carvana_train, args, out, args.quiet)
            info["web"] = score(out, web_val, args.device)
            info["carvana"] = score(out, check, args.device)
            training_label = read_header(out).training.get("device", training_label)
            bw, tw = base["web"]["mean_dice"], info["web"]["mean_dice"]
            info["web_gain"] = tw - bw
            bc, tc = base["carvana"]["mean_dice"], info["carvana"]["mean_dice"]
            info["carvana_change"] = tc - bc if check else None
            tuned[name] = info
            carvana = f", Carvana {tc:.5f} ({tc - bc:+.5f})" if check else ""
            print(
                f"  {name}: web {tw:.5f} ({tw - bw:+.5f}){carvana}; {info['steps']} steps, "
                f"{info['train_seconds']:.0f} s",
                flush=True,
            )
        models.append(
            {
                "label": label,
                "name": header.name,
                "file": str(path.resolve()),
                "weights_sha256": header.sha256,
                "input_size": list(header.input_size),
                "threshold": header.threshold,
                "encoder": header.arch.encoder,
                "refiner": bool(header.arch.refiner_width),  # kept as it is by fine-tuning
                "base": base,
                "finetuned": tuned,
            }
        )
    seconds = time.perf_counter() - start

    report = {
        "benchmark": "finetune_real",
        "environment": {**env, "training_device_label": training_label},
        "settings": {
            "argv": list(sys.argv[1:] if argv is None else argv),
            "data_root": str(root.resolve()),
            "recipes": {r: asdict(RECIPES[r]) for r in args.recipe},
            "epochs_scale": args.epochs_scale,
            "max_steps": args.max_steps,
            "batch_size": args.batch_size,
            "crop": list(args.crop),
            "val_share": args.val_share,
            "keep_last": args.keep_last,
            "carvana_check": args.carvana_check,
            "seed": args.seed,
            "device": args.device,
            "threads": torch.get_num_threads(),
            "training_data": "TrainConfig.compose real-photo path (aspect kept), crops",
        },
        "data": {
            "web_train": len(web_train),
            "learn": [p.image.name for p in learn],
            "held_back": [p.image.name for p in held_back],
            "web_test": [p.image.name for p in web_val],
            "carvana_check": [p.image.name for p in check],
            "carvana_train_found": len(carvana_train),
        },
        "seconds": round(seconds, 1),
        "models": models,
    }
    out = Path(args.json) if args.json else default_out(device)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(report, indent=1) + "\n").encode())
    print()
    print_table(report)
    print(f"\n{len(models)} base models x {len(args.recipe)} recipes in {seconds:.0f} s")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
