"""Photo/mask pairs: find them, report problems by file, split by car (no torch: the
fine-tuning wizard's pages use these on the UI side).

Layouts understood (mixed in one tree is fine):
- Kaggle: `train/` + `train_masks/` holding `<stem>_mask.gif` (or `<stem>.png`);
- `images/` + `masks/` with equal stems;
- sibling folders `X/` + `X_gt/` (or `X_masks/`), e.g. `shoot/` + `shoot_gt/`, with equal stems
  or `<stem>_mask`; or any masks folder named with `masks=`;
- `X.jpg` beside `X_mask.png` in one folder;
- `X.jpg` beside a transparent PNG cutout of itself, `X.png` (alpha = label: past retouching work).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.io import IMAGE_SUFFIXES, ImageReadError, find_images, read_mask, read_rgb
from engine.io.naming import named_car

MASK_ONLY_SUFFIXES = frozenset({".gif"})  # Kaggle's masks: never a photo, but can be an orphan
_LAYOUT_DIRS = {"images", "image", "photos", "train", "val", "valid", "test", "masks", "cutouts"}


@dataclass(frozen=True)
class Pair:
    image: Path
    mask: Path
    car: str
    label: str = "mask"  # "mask" (binary mask file) or "cutout" (alpha of a transparent PNG)

    def to_dict(self) -> dict:
        return {
            "image": str(self.image),
            "mask": str(self.mask),
            "car": self.car,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Pair:
        return cls(Path(d["image"]), Path(d["mask"]), str(d["car"]), d.get("label", "mask"))

    def stamp(self) -> str:
        """The two files' paths, sizes and modification times: what a cache made from the pair
        keys on, so a changed photo or mask is made again."""
        st_i, st_m = self.image.stat(), self.mask.stat()
        return (
            f"{self.image}|{st_i.st_mtime_ns}|{st_i.st_size}|"
            f"{self.mask}|{st_m.st_mtime_ns}|{st_m.st_size}"
        )


@dataclass
class PairReport:
    pairs: list[Pair] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def cars(self) -> list[str]:
        return sorted({p.car for p in self.pairs})

    def summary(self) -> str:
        lines = [
            f"{len(self.pairs)} pairs from {len(self.cars)} cars, {len(self.problems)} problems"
        ]
        lines += [f"  {path}: {reason}" for path, reason in self.problems]
        return "\n".join(lines)


def car_id(photo: Path, root: Path) -> str:
    """Carvana names `<car>_<angle>` give the car; otherwise the folder, else the file."""
    car = named_car(photo)
    if car is not None:
        return car
    folder = photo.parent
    if folder != root and folder.name.lower() not in _LAYOUT_DIRS:
        return str(folder.relative_to(root)) if folder.is_relative_to(root) else folder.name
    return photo.stem


def _has_alpha(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    except OSError:
        return False


def _is_mask_name(path: Path) -> bool:
    parent = path.parent.name.lower()
    return (
        path.stem.endswith("_mask")
        or parent in ("masks", "gt")
        or parent.endswith(("_masks", "_gt"))
    )


def _mask_candidates(photo: Path, masks: Path | None = None) -> list[Path]:
    d, stem = photo.parent, photo.stem
    folders = [d, d.parent / f"{d.name}_masks", d.parent / f"{d.name}_gt"]
    if masks is not None:
        folders.insert(0, masks)
    if d.name.lower() in ("images", "image", "photos"):
        folders.append(d.parent / "masks")
    out = []
    for folder in folders:
        for name in (f"{stem}_mask", stem):
            if folder == d and name == stem:
                continue
            out += [folder / f"{name}{ext}" for ext in (".png", ".gif", ".bmp", ".tif", ".jpg")]
    return out


def find_pairs(root, check_content: bool = True, masks=None) -> PairReport:
    """Find every photo/mask pair under `root` and every problem, named by file. `masks`: a
    folder holding the masks (same stems, or `<stem>_mask`) anywhere else, e.g. `shoot_gt/`."""
    root = Path(root)
    report = PairReport()
    for folder in (root, masks):
        if folder is not None and not Path(folder).is_dir():
            report.problems.append((Path(folder), "folder not found"))
    if report.problems:
        return report
    root = root.resolve()  # find_images gives resolved paths; car_id compares folders with root
    masks = Path(masks).resolve() if masks is not None else None
    files, _ = find_images([root], suffixes=IMAGE_SUFFIXES | MASK_ONLY_SUFFIXES)
    mask_files: list[Path] = []
    if masks is not None and not masks.is_relative_to(root):
        mask_files, _ = find_images([masks], suffixes=IMAGE_SUFFIXES | MASK_ONLY_SUFFIXES)
    fileset = set(files) | set(mask_files)
    used: set[Path] = set()

    def is_mask(f: Path) -> bool:
        return _is_mask_name(f) or (masks is not None and f.is_relative_to(masks))

    photos = [f for f in files if not is_mask(f) and f.suffix.lower() in IMAGE_SUFFIXES]
    # a PNG with alpha beside a photo of the same stem is that photo's cutout, not a photo
    by_stem = defaultdict(list)
    for f in photos:
        by_stem[(f.parent, f.stem)].append(f)
    cutouts = {}
    for group in by_stem.values():
        if len(group) == 2 and any(g.suffix.lower() == ".png" for g in group):
            png = next(g for g in group if g.suffix.lower() == ".png")
            other = next(g for g in group if g is not png)
            if _has_alpha(png):
                cutouts[other] = png
    cutout_files = set(cutouts.values())  # once, not once per photo
    photos = [f for f in photos if f not in cutout_files]
    for photo in photos:
        if photo in cutouts:
            pair = Pair(photo, cutouts[photo], car_id(photo, root), "cutout")
        else:
            candidates = _mask_candidates(photo, masks)
            mask = next((c for c in candidates if c in fileset or c.is_file()), None)
            if mask is None:
                report.problems.append((photo, "no mask found for this photo"))
                continue
            pair = Pair(photo, mask, car_id(photo, root))
        used.add(pair.mask)
        problem = _check_pair(pair) if check_content else None
        if problem:
            report.problems.append(problem)
        else:
            report.pairs.append(pair)
    for f in files + mask_files:
        if (is_mask(f) or f in mask_files) and f not in used:
            report.problems.append((f, "mask without a photo"))
    return report


def _check_pair(pair: Pair) -> tuple[Path, str] | None:
    try:  # decoded in full, as training will: a truncated photo only fails here, not at open
        rgb = read_rgb(pair.image)  # EXIF orientation applied, as in load_pair
    except ImageReadError as exc:
        return pair.image, f"unreadable photo ({exc.reason})"
    size = (rgb.shape[1], rgb.shape[0])
    try:
        mask = read_mask(pair.mask)
    except ImageReadError as exc:
        return pair.mask, f"unreadable mask ({exc.reason})"
    if (mask.shape[1], mask.shape[0]) != size:
        return pair.mask, (
            f"mask is {mask.shape[1]}×{mask.shape[0]} but the photo is {size[0]}×{size[1]}"
        )
    fraction = float(mask.mean())
    if fraction == 0.0:
        return pair.mask, "mask is empty (no car marked)"
    if fraction == 1.0:
        return pair.mask, "mask covers the whole photo (no background marked)"
    return None


def by_car(pairs: Sequence[Pair]) -> dict[str, list[Pair]]:
    """Each car's photos, in the order given (cars in the order first met)."""
    out: dict[str, list[Pair]] = {}
    for p in pairs:
        out.setdefault(p.car, []).append(p)
    return out


def split_by_car(
    pairs: Sequence[Pair], val_fraction: float = 0.15, seed: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """Train/validation split by car: all angles of a car land on the same side."""
    cars = sorted({p.car for p in pairs})
    if len(cars) < 2:
        raise ValueError(f"a split by car needs at least 2 cars, found {len(cars)}")
    rng = random.Random(seed)
    rng.shuffle(cars)
    n_val = min(len(cars) - 1, max(1, round(len(cars) * val_fraction)))
    val_cars = set(cars[:n_val])
    return [p for p in pairs if p.car not in val_cars], [p for p in pairs if p.car in val_cars]


def spread(items: Sequence, limit: int | None) -> list:
    """`limit` items evenly spread over the sequence, first one included (all when `limit` is
    0, None or not below the length): validation subsets that span the cars and angles."""
    n = len(items)
    if not limit or limit >= n:
        return list(items)
    return [items[i * n // limit] for i in range(limit)]


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Photo (H×W×3 uint8) and its label (H×W bool)."""
    return read_rgb(pair.image), read_mask(pair.mask)
