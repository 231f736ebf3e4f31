"""The recipe of the shipped "any studio" default: the Carvana CPU default fine-tuned (all
layers) on composed scenes (procedural studios, street scenes), Carvana's own studio and the web
photos' training split. Run from the repo root:

    python scripts/train_any_studio.py --data ../shared/data --out /work/runs/any-studio

It prepares the cut-out cache with every core first, then trains on 2 threads (bf16 where the CPU
has it), writing JSON events to OUT/events.jsonl and the model to OUT/model.safetensors.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.training.config import TrainConfig  # noqa: E402
from engine.training.events import JsonLinesSink  # noqa: E402
from engine.training.pairs import find_pairs  # noqa: E402
from engine.training.scenes.cutout import CutoutCache  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def _cut(args) -> None:
    folder, pair = args
    CutoutCache(folder).get(pair)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--out", default="/work/runs/any-studio")
    p.add_argument("--base", default=str(ROOT / "resources/models/cpu-lite0-448x672.safetensors"))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--mix", default="{}", help='odds of each kind as JSON, e.g. {"photo": 0.2}')
    p.add_argument(
        "--small-cars", type=float, default=0.0, help="share of composites with a small car"
    )
    p.add_argument("--clutter", type=float, default=0.0, help="share of cluttered composites")
    p.add_argument("--dark", type=float, default=0.0, help="share of dark cars on black")
    p.add_argument(
        "--input-size",
        default="",
        help="HxW the model is trained (and then run) at; default: the base model's",
    )
    p.add_argument("--crop", default="256x384", help="HxW training crop at the input scale")
    p.add_argument("--epoch-size", type=int, default=0, help="items an epoch (0: the cars')")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--name", default="cpu-lite0-448x672-any-studio")
    args = p.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out.parent / "cache"
    cars = find_pairs(data / "carvana" / "train").pairs
    val = find_pairs(data / "carvana" / "val").pairs
    with ProcessPoolExecutor(args.threads) as pool:
        list(pool.map(_cut, [(str(cache / "cutouts"), pr) for pr in cars], chunksize=16))
    photos = [pr.to_dict() for pr in web_pairs(data / "web-cars", "train")]
    cfg = TrainConfig(
        data=str(data / "carvana" / "train"),
        val_data=str(data / "carvana" / "val"),
        out=str(out / "model.safetensors"),
        name=args.name,
        init_from=args.base,
        size_from_base=not args.input_size,
        input_size=_size(args.input_size) if args.input_size else (1024, 1024),
        crop_size=_size(args.crop),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer="adamw",
        schedule="cosine",
        max_val_photos=24,
        threads=args.threads,
        workers=args.workers,
        cache_dir=str(cache),
        compose={
            "scenes": str(data / "scenes"),
            "photos": photos,
            "cache_dir": str(cache),
            "mix": json.loads(args.mix),
            "small_cars": args.small_cars,
            "clutter": args.clutter,
            "dark": args.dark,
            "epoch_size": args.epoch_size,
        },
        keep_last=True,
    )
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1, default=list))
    with open(out / "events.jsonl", "a") as f:
        Trainer(cfg, JsonLinesSink(f), train_pairs=cars, val_pairs=val).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
