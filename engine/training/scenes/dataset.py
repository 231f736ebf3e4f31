"""The training set of a composed run: each item is, by the mix's odds, a Carvana car pasted into
a procedural studio or a street scene, a Carvana photo in its own studio (the paper's
augmentation), or a real labelled photo (e.g. the web photos' training split).

Items are random crops at the model's scale (crop training); a composite's crop always holds the
main car's centre, so the crop shows which car is the main one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.models.config import hw
from engine.training.data import Augment, ResizedCache, resize_pair
from engine.training.pairs import Pair, load_pair
from engine.training.scenes.compose import Composer, canvas_size
from engine.training.scenes.cutout import CutoutCache
from engine.training.scenes.sources import Scene

KINDS = ("studio", "street", "carvana", "photo")


@dataclass
class Mix:
    """Odds of each kind of item (they need not sum to 1)."""

    studio: float = 0.40
    street: float = 0.22
    carvana: float = 0.25
    photo: float = 0.13

    def odds(self, have_scenes: bool, have_photos: bool) -> np.ndarray:
        p = np.array(
            [self.studio, self.street * have_scenes, self.carvana, self.photo * have_photos], float
        )
        if p.sum() <= 0:
            raise ValueError("the mix leaves nothing to train on")
        return p / p.sum()


@dataclass
class ComposeConfig:
    """What `TrainConfig.compose` holds (JSON-friendly)."""

    scenes: str = ""  # folder of street scenes (`images/` + `masks/`), "" for none
    photos: list = field(default_factory=list)  # extra real photo/mask pairs (Pair dicts)
    mix: dict = field(default_factory=dict)  # Mix fields
    epoch_size: int = 0  # items per epoch (0: as many as the car pairs)
    small_cars: float = 0.0  # share of composites with a small main car (Composer.small_cars)
    clutter: float = 0.0  # share of composites with neighbours, posts, text (Composer.clutter)
    dark: float = 0.0  # share of studio composites with a dark car on black (Composer.dark)
    cache_dir: str = ""  # cut-outs and resized photos are kept here

    @classmethod
    def from_dict(cls, d: dict) -> ComposeConfig:
        return cls(**d)


def _start(centre: int, length: int, total: int, rng: np.random.Generator) -> int:
    """A window start so that the window (of `length` in `total`) holds `centre`, not at its
    very edge."""
    lo = int(np.clip(centre - length + length // 8, 0, total - length))
    hi = int(np.clip(centre - length // 8, 0, total - length))
    return int(rng.integers(lo, max(lo, hi) + 1))


class ComposedDataset(Dataset):
    def __init__(
        self,
        cars: Sequence[Pair],
        size: tuple[int, int],
        crop: tuple[int, int],
        scenes: Sequence[Scene] = (),
        photos: Sequence[Pair] = (),
        mix: Mix | None = None,
        cache_dir=None,
        seed: int = 0,
        epoch_size: int = 0,
        small_cars: float = 0.0,
        clutter: float = 0.0,
        dark: float = 0.0,
    ):
        if not cars:
            raise ValueError("composition needs car photos with masks")
        self.cars, self.photos = list(cars), list(photos)
        self.size, self.crop, self.seed = hw(size), hw(crop), seed
        self.odds = (mix or Mix()).odds(bool(scenes), bool(self.photos))
        self.length = epoch_size or len(self.cars)
        self.cutouts = CutoutCache(f"{cache_dir}/cutouts") if cache_dir else None
        self.resized = ResizedCache(f"{cache_dir}/resized", self.size) if cache_dir else None
        self.composer = Composer(
            self._car, scenes, self.size, small_cars=small_cars, clutter=clutter, dark=dark
        )
        self.augment = Augment()
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def _car(self, rng: np.random.Generator):
        pair = self.cars[int(rng.integers(len(self.cars)))]
        if self.cutouts is not None:
            return self.cutouts.get(pair)
        from engine.training.scenes.cutout import make_cutout

        return make_cutout(*load_pair(pair))

    def _crop_around(self, rgb, label, box, rng):
        ch, cw = self.crop
        H, W = label.shape
        if ch > H or cw > W:  # never for canvases at the model's pixel budget; be safe
            rgb, label = resize_pair(rgb, label, (max(H, ch), max(W, cw)))
            H, W = label.shape
        if box is None:
            y0, x0 = rng.integers(0, H - ch + 1), rng.integers(0, W - cw + 1)
        else:
            cy, cx = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
            y0, x0 = _start(cy, ch, H, rng), _start(cx, cw, W, rng)
        rgb, label = rgb[y0 : y0 + ch, x0 : x0 + cw], label[y0 : y0 + ch, x0 : x0 + cw]
        if rng.random() < 0.5:
            rgb, label = rgb[:, ::-1], label[:, ::-1]
        return rgb, label

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray, str]:
        """(crop RGB uint8, crop label uint8 coverage, kind) of item i in this epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, i])
        kind = KINDS[int(rng.choice(len(KINDS), p=self.odds))]
        if kind in ("studio", "street"):
            c = self.composer.studio(rng) if kind == "studio" else self.composer.street(rng)
            rgb, label = self._crop_around(c.rgb, c.label, c.box, rng)
            return rgb, label, kind
        if kind == "carvana":
            pair = self.cars[i % len(self.cars)]
            rgb, mask = (
                self.resized.get(pair) if self.resized else resize_pair(*load_pair(pair), self.size)
            )
        else:  # a real photo at the model's pixel budget, its own aspect ratio kept
            pair = self.photos[int(rng.integers(len(self.photos)))]
            rgb, mask = load_pair(pair)
            budget = canvas_size(rgb.shape[1] / rgb.shape[0], self.size)
            rgb, mask = resize_pair(rgb, mask, budget)
        rgb, label = self.augment(rgb, mask, rng, self.crop)
        return rgb, label, kind

    def __getitem__(self, i: int):
        rgb, label, _ = self.item(i)
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
        target = torch.from_numpy(np.ascontiguousarray(label)).float()[None] / 255.0
        return image, target
