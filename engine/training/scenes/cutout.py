"""Training cut-outs kept on disk: `CutoutCache` makes each photo/mask pair's `CarCutout`
(`engine.matte.cutout`) once and keeps it as a uint8 RGBA .npy file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from engine.matte.cutout import WORK_SCALE, CarCutout, make_cutout
from engine.matte.decontaminate import RIM_PX, decontaminate
from engine.training.pairs import Pair, load_pair

__all__ = ["WORK_SCALE", "CarCutout", "CutoutCache", "decontaminate", "make_cutout"]


class CutoutCache:
    """Cut-outs of photo/mask pairs, made once and kept on disk as uint8 RGBA .npy files."""

    def __init__(self, folder, scale: float = WORK_SCALE):
        self.folder, self.scale = Path(folder), scale
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, pair: Pair) -> Path:
        raw = f"cutout-v1|{pair.stamp()}|{self.scale}|{RIM_PX}"
        return self.folder / (hashlib.sha1(raw.encode()).hexdigest() + ".npy")

    def get(self, pair: Pair) -> CarCutout:
        path = self._key(pair)
        if path.exists():
            arr = np.load(path)
        else:
            cut = make_cutout(*load_pair(pair), self.scale)
            arr = np.concatenate([cut.rgb, cut.alpha[..., None]], axis=-1)
            arr = np.round(arr * 255).astype(np.uint8)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, arr)
            tmp.replace(path)
        f = arr.astype(np.float32) / 255.0
        return CarCutout(np.ascontiguousarray(f[..., :3]), np.ascontiguousarray(f[..., 3]))
