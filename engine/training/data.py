"""Training data: pairs resized once (disk cache), the paper's augmentation and the dataset.
Finding pairs and splitting them by car lives in `engine.training.pairs` (no torch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from engine.matte import alpha_u8
from engine.models.config import hw
from engine.training.pairs import Pair, load_pair


class ResizedCache:
    """Photos and masks resized once and stored as .npy (fast to reload every epoch)."""

    def __init__(self, folder, size: tuple[int, int]):
        self.folder, self.size = Path(folder), size
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, pair: Pair) -> Path:
        raw = f"{pair.stamp()}|{self.size}"
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

    def __call__(
        self,
        rgb: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
        out_size: tuple[int, int] | None = None,
    ):
        """A random window of the photo, zoomed by 1..1/scale, at `out_size` (default: the
        photo's size, i.e. the whole photo's framing; smaller: a crop at the photo's scale)."""
        h, w = mask.shape
        oh, ow = out_size or (h, w)
        s = rng.uniform(*self.scale)
        ch, cw = min(h, max(8, round(oh * s))), min(w, max(8, round(ow * s)))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        rgb, mask = rgb[y0 : y0 + ch, x0 : x0 + cw], mask[y0 : y0 + ch, x0 : x0 + cw]
        rgb, mask = resize_pair(np.ascontiguousarray(rgb), np.ascontiguousarray(mask), (oh, ow))
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
    coverage in [0, 1] (0 or 1 inside and outside the car, in between on its edge).

    With `crop` (and an augmentation) each item is a random crop×crop window of the photo at
    size (h, w) instead of the whole photo: the paper's crop training. The model learns at the
    scale it will predict at, for a fraction of the compute per step."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        size: tuple[int, int],
        augment: Augment | None = None,
        cache_dir=None,
        seed: int = 0,
        crop: tuple[int, int] | None = None,
    ):
        self.pairs, self.size, self.augment, self.seed = list(pairs), size, augment, seed
        if crop is not None and (crop[0] > size[0] or crop[1] > size[1]):
            raise ValueError(
                f"crop {crop[0]}×{crop[1]} is larger than the size {size[0]}×{size[1]}"
            )
        if crop is not None and augment is None:
            raise ValueError("crop training needs an augmentation (it picks the windows)")
        self.crop = hw(crop) if crop is not None else None
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
            rgb, mask = self.augment(rgb, mask, rng, self.crop)
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
        target = torch.from_numpy(np.ascontiguousarray(mask)).float()[None] / 255.0
        return image, target
