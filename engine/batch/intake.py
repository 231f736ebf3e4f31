"""Which files of the folders a user gives are photos to cut out, and why the others are not.

`find_images` lists image files and the reasons other files are not used. On top of that a batch
leaves out what is not a photo of the shoot: files CarMask wrote in an earlier run (listed in the
output record beside them, `engine.batch.outputs`), those of them retouched since (listed, with
their
photo: a retouched cutout is not a new photo to cut out), and hand-made masks beside their photos
(``X_mask.png`` next to ``X.jpg``, the layout `carmask train` reads).

`shot_of` groups the photos found: a turntable's `<car>_<NN>` photos by car, each with its
angle; any other photo (a phone's, a dealer's `IMG_1234.jpg`) is a single photo of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.batch.outputs import changed_outputs, written_by_carmask
from engine.io import find_images
from engine.io.naming import car_and_angle

__all__ = ["Intake", "Shot", "find_photos", "shot_of"]

_MASK_TAIL = "_mask"


@dataclass
class Intake:
    photos: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why it is not used)
    earlier_outputs: list[Path] = field(default_factory=list)  # CarMask's own, left out

    def summary(self) -> str:
        """One line for the end of a run ("" when every file found was used)."""
        parts = []
        if self.skipped:
            parts.append(f"skipped: {len(self.skipped)}")
        if self.earlier_outputs:
            parts.append(f"{len(self.earlier_outputs)} outputs of an earlier run left out")
        return ", ".join(parts)


@dataclass(frozen=True)
class Shot:
    """Where a photo belongs: its car and angle (`<car>_<NN>` names), or, for any other name, a
    group of its own (`car` is then the photo's path, `angle` None)."""

    car: str
    angle: int | None

    @property
    def single(self) -> bool:
        return self.angle is None


def shot_of(photo: Path) -> Shot:
    """The car and angle a photo's name gives (the rule `engine.listing.naming` reads), or a
    single photo: a folder of phone photos is not one car with meaningless angles."""
    car, angle = car_and_angle(photo)
    return Shot(car, angle) if angle is not None else Shot(str(photo), None)


def find_photos(inputs: Iterable[str | os.PathLike[str]], recursive: bool = True) -> Intake:
    """The photos among files and folders, with every other file and why it is not used."""
    images, skipped = find_images(inputs, recursive=recursive)
    ours = written_by_carmask(images)
    retouched = changed_outputs(p for p in images if p not in ours)
    photos = [p for p in images if p not in ours and p not in retouched]
    stems: dict[tuple[Path, str], Path] = {}
    for p in photos:
        if not p.stem.casefold().endswith(_MASK_TAIL):
            stems.setdefault((p.parent, p.stem.casefold()), p)
    intake = Intake(earlier_outputs=[p for p in images if p in ours], skipped=list(skipped))
    for p, source in retouched.items():
        why = f"CarMask's output of {Path(source).name}, changed since (a retouch): not a photo"
        intake.skipped.append((p, why))
    for p in photos:
        stem = p.stem.casefold()
        twin = None
        if stem.endswith(_MASK_TAIL):
            twin = stems.get((p.parent, stem[: -len(_MASK_TAIL)]))
        if twin is not None:
            intake.skipped.append((p, f"the mask of {twin.name}, not a photo"))
        else:
            intake.photos.append(p)
    return intake
