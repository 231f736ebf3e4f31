"""Training data: find photo/mask pairs, report problems by file, split by car, augment.

Layouts understood (mixed in one tree is fine):
- Kaggle: `train/` + `train_masks/` holding `<stem>_mask.gif` (or `<stem>.png`);
- `images/` + `masks/` with equal stems;
- `X.jpg` beside `X_mask.png` in one folder;
- `X.jpg` beside a transparent PNG cutout of itself, `X.png` (alpha = label: past retouching work).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from engine.export import alpha_u8
from engine.io import IMAGE_SUFFIXES, ImageReadError, find_images, read_mask, read_rgb

_ANGLE = re.compile(r"^(?P<car>.+)_(?P<angle>\d{2})$")
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
    m = _ANGLE.match(photo.stem)
    if m:
        return m.group("car")
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
    return path.stem.endswith("_mask") or parent == "masks" or parent.endswith("_masks")


def _mask_candidates(photo: Path) -> list[Path]:
    d, stem = photo.parent, photo.stem
    folders = [d, d.parent / f"{d.name}_masks"]
    if d.name.lower() in ("images", "image", "photos"):
        folders.append(d.parent / "masks")
    out = []
    for folder in folders:
        for name in (f"{stem}_mask", stem):
            if folder == d and name == stem:
                continue
            out += [folder / f"{name}{ext}" for ext in (".png", ".gif", ".bmp", ".tif", ".jpg")]
    return out


def find_pairs(root, check_content: bool = True) -> PairReport:
    """Find every photo/mask pair under `root` and every problem, named by file."""
    root = Path(root)
    report = PairReport()
    if not root.is_dir():
        report.problems.append((root, "folder not found"))
        return report
    root = root.resolve()  # find_images gives resolved paths; car_id compares folders with root
    files, _ = find_images([root], suffixes=IMAGE_SUFFIXES | MASK_ONLY_SUFFIXES)
    fileset = set(files)
    used: set[Path] = set()
    photos = [f for f in files if not _is_mask_name(f) and f.suffix.lower() in IMAGE_SUFFIXES]
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
            mask = next((c for c in _mask_candidates(photo) if c in fileset or c.is_file()), None)
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
    for f in files:
        if _is_mask_name(f) and f not in used:
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


class ResizedCache:
    """Photos and masks resized once and stored as .npy (fast to reload every epoch)."""

    def __init__(self, folder, size: tuple[int, int]):
        self.folder, self.size = Path(folder), size
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, pair: Pair) -> Path:
        st_i, st_m = pair.image.stat(), pair.mask.stat()
        raw = f"{pair.image}|{st_i.st_mtime_ns}|{st_i.st_size}|{pair.mask}|{st_m.st_mtime_ns}|"
        raw += f"{st_m.st_size}|{self.size}"
        return self.folder / (hashlib.sha1(raw.encode()).hexdigest() + ".npy")

    def get(self, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        path = self._key(pair)
        if path.exists():
            arr = np.load(path)
            return arr[..., :3], arr[..., 3]
        rgb, mask = resize_pair(*load_pair(pair), self.size)
        arr = np.concatenate([rgb, mask[..., None]], axis=-1)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(path)
        return rgb, mask


def resize_pair(rgb: np.ndarray, mask: np.ndarray, size: tuple[int, int]):
    """Photo and mask at (h, w). The mask comes back as uint8 coverage (0..255): a pixel on the
    car's edge keeps the fraction of it that was car, so a model trained at low resolution learns
    where the edge lies inside the pixel (soft targets), which the full-size mask needs."""
    h, w = size
    mask = alpha_u8(mask)  # uint8 car coverage 0..255 (a bool mask becomes 0/255)
    if rgb.shape[:2] == (h, w):
        return rgb, mask
    shrink = h * w < rgb.shape[0] * rgb.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    rgb = cv2.resize(rgb, (w, h), interpolation=interp)
    return rgb, cv2.resize(mask, (w, h), interpolation=interp)


@dataclass(frozen=True)
class Augment:
    """The paper's augmentation: random crop/scale and colour jitter, plus horizontal flip."""

    scale: tuple[float, float] = (0.75, 1.0)  # crop side as a fraction of the photo side
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue_degrees: float = 10.0
    hflip: bool = True

    def __call__(self, rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        h, w = mask.shape
        s = rng.uniform(*self.scale)
        ch, cw = max(8, round(h * s)), max(8, round(w * s))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        rgb, mask = rgb[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw]
        rgb, mask = resize_pair(np.ascontiguousarray(rgb), np.ascontiguousarray(mask), (h, w))
        if self.hflip and rng.random() < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        return self.jitter(rgb, rng), np.ascontiguousarray(mask)

    def jitter(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-1, 1) * self.hue_degrees / 2) % 180
        hsv[..., 1] *= 1 + rng.uniform(-self.saturation, self.saturation)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
        out = out.astype(np.float32) * (1 + rng.uniform(-self.brightness, self.brightness))
        mean = out.mean()
        out = (out - mean) * (1 + rng.uniform(-self.contrast, self.contrast)) + mean
        return np.clip(out, 0, 255).astype(np.uint8)


class PairDataset(Dataset):
    """Pairs at a fixed (h, w) as tensors: image 3×h×w float in [0, 1], mask 1×h×w float car
    coverage in [0, 1] (0 or 1 inside and outside the car, in between on its edge)."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        size: tuple[int, int],
        augment: Augment | None = None,
        cache_dir=None,
        seed: int = 0,
    ):
        self.pairs, self.size, self.augment, self.seed = list(pairs), size, augment, seed
        self.cache = ResizedCache(cache_dir, size) if cache_dir else None
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        pair = self.pairs[i]
        if self.cache is not None:
            rgb, mask = self.cache.get(pair)
        else:
            rgb, mask = resize_pair(*load_pair(pair), self.size)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            rgb, mask = self.augment(rgb, mask, rng)
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
        target = torch.from_numpy(np.ascontiguousarray(mask)).float()[None] / 255.0
        return image, target


__all__ = [
    "IMAGE_SUFFIXES",
    "Augment",
    "Pair",
    "PairDataset",
    "PairReport",
    "car_id",
    "find_pairs",
    "load_pair",
    "split_by_car",
]
