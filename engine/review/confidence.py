"""A confidence in [0, 1] per photo, from the probability map prediction already computes.

Each check gives a score in [0, 1] (1: nothing wrong); one scoring below `REVIEW_BELOW` names a
reason an operator can read and makes the photo need review (`engine.review.verdict`). The
confidence is the weakest check's score, so one bad sign is enough to flag the photo and every
flagged photo says why:

- **unsure edge**: pixels with a probability between 0.1 and 0.9 should only rim the car's
  outline, a few pixels wide; a wide unsure band means the model was torn (glass, reflections,
  a car it does not know, a backdrop like the car);
- **stray blobs**: car pixels outside the largest car (a wall or another car marked as car);
- **holes**: background inside the car's outline that does not reach the frame;
- **cut at the frame**: the mask running along the photo's edge (the car cut off, or the floor
  marked as car);
- **odd size**: a car covering almost none, or almost all, of the photo;
- **models disagree** (an ensemble): pixels where a member's mask differs from the majority's.

The edge and blob limits are calibrated on real photos the model was not trained on (web-cars'
validation split, Carvana val; `benchmarks/confidence.py`): good cutouts of web photos have an
unsure band up to about 4 px wide and under 1 % stray car pixels, bad ones mostly more.

Worked out at a quarter of the photo's size (a few milliseconds). No torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.review.verdict import REVIEW_BELOW

WORK_SIDE = 480  # the map is shrunk to about this many pixels on its long side
UNSURE = (0.1, 0.9)
EDGE_WIDTH_HALF = 4.0  # unsure pixels per outline pixel (at work size) that score 0.5
STRAY_HALF = 0.02  # the share of car pixels apart from the car that scores 0.5
NEARLY_EMPTY = 0.005  # a car covering less of the photo than this is noted (the size check's 0)


@dataclass(frozen=True)
class Confidence:
    value: float  # in [0, 1]; 1: nothing looks wrong
    reasons: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    measures: dict[str, float] = field(default_factory=dict, compare=False)  # what was scored

    def to_json(self) -> dict:
        return {
            "confidence": round(self.value, 4),
            "reasons": list(self.reasons),
            "checks": {k: round(v, 4) for k, v in self.scores.items()},
        }


def _ramp(x: float, good: float, bad: float) -> float:
    """1 at or below `good`, 0 at or beyond `bad`, linear between."""
    return float(np.clip((bad - x) / (bad - good), 0.0, 1.0))


def _shrunk(prob: np.ndarray) -> np.ndarray:
    h, w = prob.shape
    k = WORK_SIDE / max(h, w)
    if k >= 1:
        return prob.astype(np.float32, copy=False)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(prob.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA)


def confidence(
    prob: np.ndarray, members: Sequence[np.ndarray] = (), mask: np.ndarray | None = None
) -> Confidence:
    """The confidence of one photo's cutout from its H×W probability map (car = 1), the H×W
    boolean `mask` the cutout is made from (the model's threshold, or the ensemble's vote; by
    default the map above 0.5) and, for an ensemble, its members' H×W boolean masks."""
    p = _shrunk(prob)
    car = ((_shrunk(mask.astype(np.float32)) if mask is not None else p) > 0.5).astype(np.uint8)
    scores: dict[str, float] = {}
    reasons: list[str] = []
    area = float(car.mean())
    if area == 0:
        return Confidence(0.0, ("no car found",), {"size": 0.0}, {"area": 0.0})

    outline = cv2.morphologyEx(car, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).sum() / 2
    unsure = float(((p > UNSURE[0]) & (p < UNSURE[1])).sum())
    width = unsure / max(outline, 1.0)
    scores["edge"] = 1 / (1 + (width / EDGE_WIDTH_HALF) ** 3)  # never flat: it ranks every photo
    if scores["edge"] < REVIEW_BELOW:
        reasons.append(f"unsure edge: {width:.1f} px wide where a clean cutout has under 4")

    stats = cv2.connectedComponentsWithStats(car, connectivity=8)[2]
    sizes = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    stray = 1.0 - sizes.max() / sizes.sum()
    scores["blobs"] = _ramp(stray, STRAY_HALF - 0.015, STRAY_HALF + 0.015)
    if scores["blobs"] < REVIEW_BELOW:
        reasons.append(f"stray blobs: {stray:.0%} of the car pixels lie apart from the car")

    background = (1 - car).astype(np.uint8)
    m, bg_labels, bg_stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    edge_labels = set(
        np.unique(np.concatenate([bg_labels[0], bg_labels[-1], bg_labels[:, 0], bg_labels[:, -1]]))
    ) - {0}
    inner = [i for i in range(1, m) if i not in edge_labels]
    hole = float(bg_stats[inner, cv2.CC_STAT_AREA].sum()) / car.sum() if inner else 0.0
    scores["holes"] = _ramp(hole, 0.01, 0.08)
    if scores["holes"] < REVIEW_BELOW:
        reasons.append(f"holes: {hole:.0%} of the car's outline is background inside it")

    border = np.concatenate([car[0], car[-1], car[:, 0], car[:, -1]])
    cut = float(border.mean())
    scores["frame"] = _ramp(cut, 0.05, 0.3)
    if scores["frame"] < REVIEW_BELOW:
        reasons.append(f"cut at the frame: the mask runs along {cut:.0%} of the photo's edge")

    scores["size"] = min(_ramp(-area, -0.03, -0.005), _ramp(area, 0.75, 0.95))
    if scores["size"] < REVIEW_BELOW:
        reasons.append(f"odd size: the car covers {area:.0%} of the photo")

    if len(members) > 1:
        votes = np.mean([_shrunk(m.astype(np.float32)) for m in members], axis=0)
        split = float(((votes > 0.25) & (votes < 0.75)).sum()) / max(float(car.sum()), 1.0)
        scores["agree"] = _ramp(split, 0.01, 0.06)
        if scores["agree"] < REVIEW_BELOW:
            reasons.append(f"models disagree on {split:.1%} of the car's area")

    measures = {
        "edge_px": float(width),
        "stray": float(stray),
        "holes": hole,
        "frame": cut,
        "area": area,
    }
    if len(members) > 1:
        measures["split"] = split
    return Confidence(float(min(scores.values())), tuple(reasons), scores, measures)


def empty_cutout_note(mask: np.ndarray) -> str | None:
    """A note for a cutout with (almost) no car in it, said whether or not a report is asked
    for (None for a cutout with a car)."""
    area = float(np.count_nonzero(mask)) / max(mask.size, 1)
    if area == 0:
        return "no car found: the cutout is empty"
    if area < NEARLY_EMPTY:
        return f"almost no car found: the cutout covers {area:.2%} of the photo"
    return None
