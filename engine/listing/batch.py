"""Listing frames for a batch: masks are collected per car, and once every photo of a car is
in (or has failed), the car's angles are framed as one set and written as JPEGs through the
batch's `OutputPlan` (names chosen with the rest of the batch; nothing a studio owns replaced).

A car is what the photos' names say (`<car>_<angle>`, as a turntable shoots them), else the
folder the photos are in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.batch.outputs import OutputPlan
from engine.io import ImageReadError, OutputWriteError, image_writer, read_photo
from engine.io.naming import car_and_angle
from engine.listing.framing import CarBox, car_box, plan_frames
from engine.listing.render import Backdrop, ShadowStyle, render_angle
from engine.listing.spin import spin_page

LISTING = "listing"  # the output format's name (`engine.batch.outputs.NAME_PATTERNS`)


def car_of(photo: Path) -> str:
    """The car a photo belongs to in a batch (`naming.car_and_angle`, within its folder)."""
    return f"{photo.parent}/{car_and_angle(photo)[0]}"


@dataclass(frozen=True)
class ListingOptions:
    size: tuple[int, int] = (1600, 1200)  # (width, height)
    backdrop: Backdrop = field(default_factory=Backdrop)
    shadow: ShadowStyle = field(default_factory=ShadowStyle)
    margin: float = 0.06
    jpeg_quality: int = 92
    spin: bool = False  # a 360° spin page per car beside its frames (`engine.listing.spin`)


def preview_frame(
    rgb: np.ndarray, mask: np.ndarray, o: ListingOptions, others: Sequence[CarBox] = ()
) -> np.ndarray | None:
    """One photo framed as its car's set will be (`others`: the boxes of the car's other
    angles) with these options: the export dialog's live preview. None when the mask has no
    car."""
    box = car_box(mask)
    if box is None:
        return None
    plan = plan_frames([box, *others], o.size, o.margin)[0]
    return render_angle(rgb, mask, box, plan, o.backdrop, o.shadow)[0]


@dataclass
class _Angle:
    photo: Path
    mask: np.ndarray  # packed bits (a car's 16 full-size masks stay small)
    shape: tuple[int, int]
    box: CarBox


@dataclass
class CarResult:
    car: str
    written: list[Path] = field(default_factory=list)
    spin: Path | None = None  # the car's spin page, when asked for and written
    notes: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


class ListingBatch:
    """`out_dir`: the output folder, or a function giving each photo's (the app's export writes
    beside each photo by default)."""

    def __init__(
        self,
        options: ListingOptions,
        plan: OutputPlan,
        out_dir: str | Path | Callable[[Path], Path],
        photos: list[Path],
    ):
        self.options, self.plan = options, plan
        self.out_dir = out_dir if callable(out_dir) else (lambda _photo: Path(out_dir))
        self._left = Counter(car_of(p) for p in photos)  # photos of each car still to come
        self._angles: dict[str, list[_Angle]] = {}

    def add(self, photo: Path, mask: np.ndarray) -> CarResult | None:
        """One photo's mask; the car's result once it was the car's last photo."""
        car = car_of(photo)
        box = car_box(mask)
        note = None
        if box is None:
            note = (photo, "no car found: no listing frame")
        else:
            packed = np.packbits(mask.astype(bool), axis=None)
            self._angles.setdefault(car, []).append(_Angle(photo, packed, mask.shape, box))
        result = self._arrived(car)
        if note:
            result = result or CarResult(car)
            result.notes.append(note)
        return result

    def skip(self, photo: Path) -> CarResult | None:
        """A photo that failed: its car is framed without it."""
        return self._arrived(car_of(photo))

    def _arrived(self, car: str) -> CarResult | None:
        self._left[car] -= 1
        return self._frame(car) if self._left[car] <= 0 else None

    def unfinished(self) -> list[str]:
        """Cars with angles still to come (an interrupted batch): not framed, not written."""
        return sorted(car for car, n in self._left.items() if n > 0 and self._angles.get(car))

    def _frame(self, car: str) -> CarResult:
        result = CarResult(car)
        angles = sorted(self._angles.pop(car, []), key=lambda a: _turn_order(a.photo))
        o = self.options
        plans = plan_frames([a.box for a in angles], o.size, o.margin)
        for angle, plan in zip(angles, plans, strict=True):
            try:
                photo = read_photo(angle.photo, max_megapixels=float("inf"))  # read once already
                bits = np.unpackbits(angle.mask, count=angle.shape[0] * angle.shape[1])
                mask = bits.reshape(angle.shape).astype(bool)
                out, _ = render_angle(photo.rgb, mask, angle.box, plan, o.backdrop, o.shadow)
                path = self.plan.assign(angle.photo, self.out_dir(angle.photo))[LISTING]
                data = image_writer(out, "JPEG", quality=o.jpeg_quality, subsampling=0)
                result.written.append(self.plan.write(path, angle.photo, data))
            except (ImageReadError, OutputWriteError) as exc:  # changed meanwhile, disk full
                result.failed.append((exc.path, exc.reason))
                continue
            if plan.upscaled:
                note = f"listing frame enlarged {plan.scale:.2f}x from the photo (soft detail)"
                result.notes.append((angle.photo, note))
        if o.spin and result.written:
            self._write_spin(angles[0].photo, result)
        return result

    def _write_spin(self, first: Path, result: CarResult) -> None:
        name = car_and_angle(first)[0]
        page = self.plan.claim(f"{name}_spin", ".html", result.written[0].parent, first)
        text = spin_page(result.written, page, f"{name}: 360° view")
        try:
            result.spin = self.plan.write(page, first, lambda f: f.write(text.encode("utf-8")))
        except OutputWriteError as exc:
            result.failed.append((exc.path, exc.reason))


def _turn_order(photo: Path) -> tuple[int, str]:
    """Angles in turning order (`<car>_01` first); photos with no angle by name after them."""
    angle = car_and_angle(photo)[1]
    return (angle if angle is not None else 1 << 30, photo.name)
