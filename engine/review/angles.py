"""Checks across the angles of a car (`<car>_<NN>` photos, as a turntable shoots them).

A turntable set is shot by one fixed camera, so the car's height in the frame hardly changes
from one angle to the next, and its area changes smoothly as it turns. A photo whose car height
or area jumps against its neighbouring angles (another car's photo in the set, a mask gone
wrong) is flagged, and so are angles missing from a set of 16 and angles given twice. No torch."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io.naming import car_and_angle

ANGLES = 16  # a turntable set
HEIGHT_JUMP = 0.15  # the car's height against its neighbours' mean: at most this share off
AREA_JUMP = 0.35  # its area (this changes more: the car shows its side, then its nose)


@dataclass(frozen=True)
class Outline:
    """A mask's car, as shares of the photo: its area, and the height and width of its box."""

    area: float
    height: float
    width: float


def outline_of(mask: np.ndarray) -> Outline | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    h, w = mask.shape
    return Outline(float(mask.mean()), (rows[-1] - rows[0] + 1) / h, (cols[-1] - cols[0] + 1) / w)


def missing_angles(photos: list[Path]) -> list[int]:
    """The angles of a set of 16 that one car's photos lack (none when the names give no
    angles, only one, or angles past 16)."""
    angles = {a for a in (car_and_angle(p)[1] for p in photos) if a is not None}
    if len(angles) < 2 or max(angles) > ANGLES:
        return []
    return [a for a in range(1, ANGLES + 1) if a not in angles]


def check_sets(
    outlines: dict[Path, Outline | None], name_missing: bool = True
) -> dict[Path, list[str]]:
    """Reasons to look at each photo of the batch (photos with none are left out), from the
    outlines of its car's photos (None: no car found). Cars are what the names say, within a
    folder; photos without an angle in their name are not checked here. `name_missing`: the
    angles a set lacks are named on its first photo (the app shows them on the car instead)."""
    sets: dict[tuple[Path, str], dict[int, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for photo in outlines:
        car, angle = car_and_angle(photo)
        if angle is not None:
            sets[(photo.parent, car)][angle].append(photo)
    flagged: dict[Path, list[str]] = defaultdict(list)
    for (_, car), angles in sets.items():
        for angle, photos in angles.items():
            if len(photos) > 1:
                names = ", ".join(sorted(p.name for p in photos))
                for p in photos:
                    flagged[p].append(f"angle {angle:02d} of {car} is given twice ({names})")
        missing = missing_angles([ps[0] for ps in angles.values()]) if name_missing else []
        if missing:  # said once, on the set's first photo
            listed = ", ".join(f"{a:02d}" for a in missing)
            first = angles[min(angles)][0]
            flagged[first].append(f"{car} lacks angle(s) {listed} of {ANGLES}")
        _jumps(angles, outlines, flagged)
    return dict(flagged)


def _jumps(angles: dict[int, list[Path]], outlines, flagged) -> None:
    known = {a: outlines[ps[0]] for a, ps in angles.items() if outlines[ps[0]] is not None}
    for angle, here in known.items():
        before = known.get((angle - 2) % ANGLES + 1)  # the turntable wraps: 16 is next to 01
        after = known.get(angle % ANGLES + 1)
        if before is None or after is None:  # judged between two: one bad neighbour alone
            continue  # would flag a good photo
        for name, limit in (("height", HEIGHT_JUMP), ("area", AREA_JUMP)):
            expected = (getattr(before, name) + getattr(after, name)) / 2
            off = getattr(here, name) / expected - 1
            if abs(off) > limit:
                flagged[angles[angle][0]].append(
                    f"the car's {name} jumps {off:+.0%} against its neighbouring angles"
                )
