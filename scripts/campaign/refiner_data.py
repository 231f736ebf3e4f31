"""Photos with masks to train the edge refiner beyond the Carvana studio (issue 29, run C6).

C5 retrained the any-studio default's refiner on Carvana train photos alone: Carvana val rose
(0.99470 -> 0.99510) but the web photos fell (0.94308 -> 0.93655), since a refiner that has only
seen sharp 1918x1280 turntable edges over-corrects soft, small photos. This writes a mixed
training folder for `carmask refine --data`:

- `composites/<car>/<look>_<k>.png`: Carvana **train** cars in procedural studios, training
  streets (never the held-out CamVid sequence) and cluttered lots, about 1 Mpx at any aspect
  ratio, with the camera effects (`engine.training.scenes.compose.Composer`, as the benchmark's
  "new studios" but from train cars and training scenes only);
- `web/<stem>.jpg`: the web photos' train split (480x360) with their hand masks;
- `carvana/`: links to a spread of Carvana train photos at full size.

Masks are written beside their photos as `<name>_mask.png`. `--val` writes a separate small
validation folder from cars left out of the training folder.

    python scripts/campaign/refiner_data.py --data ../shared/data --out /work/runs/c6-refiner/data
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.io import save_image_atomic  # noqa: E402
from engine.training.pairs import Pair, by_car, find_pairs, spread  # noqa: E402
from engine.training.scenes.compose import Composer  # noqa: E402
from engine.training.scenes.cutout import CutoutCache  # noqa: E402
from engine.training.scenes.sources import find_scenes, web_pairs  # noqa: E402
from engine.training.scenes.studio import random_look  # noqa: E402

BUDGET = (800, 1200)  # about 1 Mpx, as the benchmark's generated photos
KINDS = ("studio", "studio", "street", "lot")  # half studios, a quarter each street and lot


def composites(cars, pool, scenes, cache: CutoutCache, per_car: int, folder: Path, seed: int):
    """`per_car` composites of each car's photos (angles spread), written under `folder`."""
    pool_pairs = [p for ps in pool.values() for p in ps]

    def second_car(rng: np.random.Generator):
        return cache.get(pool_pairs[int(rng.integers(len(pool_pairs)))])

    plain = Composer(second_car, scenes, budget=BUDGET, camera=True)
    lot = Composer(second_car, scenes, budget=BUDGET, camera=True, clutter=1.0)
    n = 0
    for ci, (car, pairs) in enumerate(sorted(cars.items())):
        for k, pair in enumerate(spread(sorted(pairs, key=lambda p: p.image.name), per_car)):
            rng = np.random.default_rng([seed, ci, k])
            kind = KINDS[(ci + k) % len(KINDS)]
            cut = cache.get(pair)
            if kind == "studio":
                c = plain.studio(rng, random_look(rng), cut=cut)
            elif kind == "street":
                c = plain.street(rng, cut=cut)
            else:
                c = lot.street(rng, cut=cut)
            out = folder / car / f"{kind}_{k:02d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            save_image_atomic(out, c.rgb, "PNG")
            save_image_atomic(out.with_name(out.stem + "_mask.png"), c.label > 127, "PNG")
            n += 1
    return n


def link(pairs: list[Pair], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for p in pairs:
        for src, name in ((p.image, p.image.name), (p.mask, f"{p.image.stem}_mask{p.mask.suffix}")):
            dst = folder / name
            if not dst.exists():
                os.symlink(src.resolve(), dst)
    return len(pairs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--val", help="also write a validation folder here")
    ap.add_argument("--cache", default="/work/runs/cache/cutouts", help="cut-out cache folder")
    ap.add_argument("--per-car", type=int, default=5, help="composites per train car")
    ap.add_argument("--carvana-per-car", type=int, default=4, help="Carvana photos per car")
    ap.add_argument("--val-cars", type=int, default=2, help="train cars kept for --val")
    ap.add_argument("--seed", type=int, default=29)
    args = ap.parse_args(argv)
    root, out = Path(args.data), Path(args.out)
    train = by_car(find_pairs(root / "carvana" / "train", check_content=False).pairs)
    held = set(spread(sorted(train), args.val_cars)) if args.val else set()
    cars = {c: ps for c, ps in train.items() if c not in held}
    scenes = find_scenes(root / "scenes")  # the training sequences only
    cache = CutoutCache(args.cache)
    n = composites(cars, cars, scenes, cache, args.per_car, out / "composites", args.seed)
    w = link(web_pairs(root / "web-cars", "train"), out / "web")
    carvana = [p for ps in cars.values() for p in spread(ps, args.carvana_per_car)]
    c = link(carvana, out / "carvana")
    print(f"{out}: {n} composites, {w} web photos, {c} Carvana photos")
    if args.val:
        val, held_cars = Path(args.val), {c: train[c] for c in sorted(held)}
        n = composites(held_cars, cars, scenes, cache, 4, val / "composites", args.seed + 1)
        c = link([p for ps in held_cars.values() for p in spread(ps, 4)], val / "carvana")
        print(f"{val}: {n} composites, {c} Carvana photos of {len(held)} held-out train cars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
