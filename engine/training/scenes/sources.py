"""Where composites and real photos come from, with the splits that keep benchmarks honest.

- Street scenes (`shared/data/scenes`: CamVid frames with masks of their cars): split by video
  sequence, since neighbouring frames are near-duplicates. `Seq05VD` is held out from training
  for the "new studios" benchmark.
- Web photos (`shared/data/web-cars`): the fixed validation split is the source's own `test` and
  `valid` subsets (47 photos, never trained on); its `train` subset (60) may be trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.training.pairs import Pair

HELD_OUT_SEQUENCES = frozenset({"Seq05VD"})
WEB_VAL_SUBSETS = ("rf_test_", "rf_valid_")


@dataclass(frozen=True)
class Scene:
    image: Path
    mask: Path | None  # 255 where the frame's own cars are (they stay background)
    sequence: str


def _sequence(stem: str) -> str:
    parts = stem.split("_")
    return parts[2] if len(parts) > 3 and parts[0] == "rf" else stem


def find_scenes(folder, held_out: bool = False) -> list[Scene]:
    """The training scenes of a scenes folder (`images/` + `masks/`), or with `held_out` the
    benchmark's."""
    folder = Path(folder)
    out = []
    for image in sorted((folder / "images").glob("*.jpg")):
        seq = _sequence(image.stem)
        if (seq in HELD_OUT_SEQUENCES) != held_out:
            continue
        mask = folder / "masks" / f"{image.stem}.png"
        out.append(Scene(image, mask if mask.exists() else None, seq))
    return out


def web_pairs(folder, split: str) -> list[Pair]:
    """The web photos of one split ("train" or "val") as photo/mask pairs, one car per photo."""
    if split not in ("train", "val"):
        raise ValueError("split must be 'train' or 'val'")
    folder = Path(folder)
    pairs = []
    for image in sorted((folder / "images").glob("*.jpg")):
        if image.name.startswith(WEB_VAL_SUBSETS) != (split == "val"):
            continue
        mask = folder / "masks" / f"{image.stem}.png"
        if mask.exists():
            pairs.append(Pair(image, mask, image.stem))
    return pairs
