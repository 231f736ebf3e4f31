"""One framed angle: the backdrop, the shadows the car casts on it, then the car itself with
its edge colours decontaminated (nothing of the photo's old backdrop at the edge), placed as
its `FramePlan` says. Built on the scene compositor's pieces (`engine.training.scenes`: cut-out,
scaling, shadows), which training uses too; only the frame's pixels the car and its shadow
touch are worked on."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.listing.choices import SHADOWS
from engine.listing.framing import CarBox, FramePlan
from engine.listing.shadow import contact_shadow, floor_shadow, floor_work_scale
from engine.matte.cutout import make_cutout
from engine.training.scenes.paste import Extras, Placement, blit, scaled, shadow_map

CROP_PAD = 8  # `make_cutout` crops the car's box with this much around it
FAINT = 2 / 255
SHADOW_SCALE = 0.25  # shadows are worked out at this share of the frame's size


@dataclass(frozen=True)
class Backdrop:
    """A solid colour (`top` only), a vertical gradient (`top` to `bottom`), or an image (the
    studio's branded showroom, H×W×3 uint8) scaled to cover the frame and centred."""

    top: tuple[int, int, int] = (255, 255, 255)
    bottom: tuple[int, int, int] | None = None
    image: np.ndarray | None = field(default=None, compare=False)

    def render(self, width: int, height: int) -> np.ndarray:
        """H×W×3 uint8."""
        if self.image is not None:
            ih, iw = self.image.shape[:2]
            k = max(width / iw, height / ih)
            nw, nh = max(width, round(iw * k)), max(height, round(ih * k))
            interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
            big = cv2.resize(self.image, (nw, nh), interpolation=interp)
            y0, x0 = (nh - height) // 2, (nw - width) // 2
            return np.ascontiguousarray(big[y0 : y0 + height, x0 : x0 + width])
        top = np.asarray(self.top, np.float32)
        bottom = top if self.bottom is None else np.asarray(self.bottom, np.float32)
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None]
        rows = np.round(top * (1 - t) + bottom * t).astype(np.uint8)  # one colour per row
        # spread across the width (OpenCV's nearest-neighbour resize: ~10x numpy's broadcast copy)
        return cv2.resize(rows[:, None, :], (width, height), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class ShadowStyle:
    kind: str = "contact"  # contact | drop | real (the photo's own) | none
    strength: float = 0.5  # 0..1: how dark it is at its darkest

    def __post_init__(self):
        if self.kind not in SHADOWS:
            raise ValueError(f"shadow must be one of {', '.join(SHADOWS)}, got {self.kind!r}")
        if not 0 <= self.strength <= 1:
            raise ValueError(f"shadow strength must be from 0 to 1, got {self.strength}")


def _to_u8(x: np.ndarray) -> np.ndarray:
    """0..1 floats as 0..255, rounded and saturated, in one pass."""
    return cv2.convertScaleAbs(x, alpha=255.0)


def _region(place: Placement, car_h: float, size: tuple[int, int]) -> tuple[slice, slice]:
    """The part of the frame the car and its shadows can touch (the rest stays the backdrop)."""
    fw, fh = size
    x0 = int(place.cx - 0.8 * place.width) - 2
    x1 = int(np.ceil(place.cx + 0.8 * place.width)) + 2
    y0 = int(place.ground_y - 1.1 * car_h) - 2
    y1 = int(np.ceil(place.ground_y + 0.4 * car_h)) + 2
    return slice(max(0, y0), min(fh, y1)), slice(max(0, x0), min(fw, x1))


def _shadow(cut, place: Placement, oy: int, ox: int, shape, style: ShadowStyle) -> np.ndarray:
    """The shadows (0..1 darkening) over a region whose top-left is (oy, ox) in the frame,
    worked out at a quarter of the size (they are soft: nothing is lost) and enlarged: the
    contact shadow (`engine.listing.shadow`), and for "drop" also the scene compositor's soft
    cast shadow."""
    k = SHADOW_SCALE
    small = Placement(place.width * k, (place.cx - ox) * k, (place.ground_y - oy) * k)
    _, alpha, ground = scaled(cut, small)
    w = alpha.shape[1]
    sy, sx = round(small.ground_y - ground), round(small.cx - w / 2)
    low = (max(1, round(shape[0] * k)), max(1, round(shape[1] * k)))
    plane = np.zeros(low, np.float32)
    fy, fx, cy, cx = blit(plane, alpha, sy, sx)
    plane[fy, fx] = alpha[cy, cx]
    dark = contact_shadow(plane, style.strength)
    if style.kind == "drop":
        cast = Extras(drop=0.6 * style.strength, drop_dx=0.08)
        dark = np.maximum(dark, shadow_map(alpha, ground, sy, sx, low, cast))
    return cv2.resize(dark, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _real_shadow(rgb, mask, box: CarBox, plan: FramePlan, ys, xs, style) -> np.ndarray:
    """The photo's own floor shadow (`engine.listing.shadow.floor_shadow`) carried into the
    frame's region as the car is: same scale, the car's lowest row on the ground line. At the
    default strength 0.5 it is as dark as photographed; 1 doubles it."""
    shape = (ys.stop - ys.start, xs.stop - xs.start)
    dark, (py0, px0) = floor_shadow(rgb, mask, box)
    if dark.size == 0:
        return np.zeros(shape, np.float32)
    s, k = plan.scale, floor_work_scale(box)
    tx = plan.cx + (px0 - (box.x0 + box.x1) / 2) * s - xs.start
    ty = plan.ground_y + (py0 - (box.y1 - 1)) * s - ys.start
    warp = np.array([[s / k, 0, tx], [0, s / k, ty]], np.float32)
    moved = cv2.warpAffine(dark, warp, (shape[1], shape[0]), flags=cv2.INTER_LINEAR)
    return np.clip(moved * 2 * style.strength, 0, 1)


def _shade(frame: np.ndarray, dark: np.ndarray, oy: int, ox: int) -> None:
    """Darken the frame by `dark` (placed at (oy, ox)) where it is not faint, in place."""
    dark[dark < FAINT] = 0  # a shadow's faint tails are not painted: the backdrop stays exact
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    if not rows.size:
        return
    light = 1 - dark[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1, None]
    win = (slice(oy + rows[0], oy + rows[-1] + 1), slice(ox + cols[0], ox + cols[-1] + 1))
    frame[win] = cv2.convertScaleAbs(np.multiply(frame[win], light, dtype=np.float32))


def render_angle(
    rgb: np.ndarray,
    mask: np.ndarray,
    box: CarBox,
    plan: FramePlan,
    backdrop: Backdrop,
    shadow: ShadowStyle | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The framed photo (H×W×3 uint8) and the car's coverage in it (H×W uint8, 0..255: a
    transparent listing PNG's alpha)."""
    h, w = mask.shape
    y0, y1 = max(0, box.y0 - CROP_PAD), min(h, box.y1 + CROP_PAD)
    x0, x1 = max(0, box.x0 - CROP_PAD), min(w, box.x1 + CROP_PAD)
    m = np.zeros((y1 - y0, x1 - x0), bool)  # the car alone: specks outside its box left out
    inside = mask[box.y0 : box.y1, box.x0 : box.x1]
    m[box.y0 - y0 : box.y1 - y0, box.x0 - x0 : box.x1 - x0] = (
        inside if inside.dtype == bool else inside > 127
    )
    cut_scale = min(1.0, plan.scale)  # cut out at the output's scale: less to work on
    cut = make_cutout(rgb[y0:y1, x0:x1], m, cut_scale, band_only=True)
    # the car box's centre goes to the frame's centre (the crop's pad may be cut by the edge)
    off = ((box.x0 + box.x1) / 2 - (x0 + x1) / 2) * plan.scale
    k = plan.scale / cut_scale
    place = Placement(width=cut.size[1] * k, cx=plan.cx - off, ground_y=plan.ground_y)
    frame = backdrop.render(*plan.size)
    alpha = np.zeros(frame.shape[:2], np.uint8)
    style = shadow or ShadowStyle()
    ys, xs = _region(place, cut.size[0] * k, plan.size)
    if style.kind != "none" and style.strength > 0 and ys.start < ys.stop and xs.start < xs.stop:
        shape = (ys.stop - ys.start, xs.stop - xs.start)
        if style.kind == "real":
            dark = _real_shadow(rgb, mask, box, plan, ys, xs, style)
        else:
            dark = _shadow(cut, place, ys.start, xs.start, shape, style)
        _shade(frame, dark, ys.start, xs.start)
    car, cover, ground = scaled(cut, place)
    top, left = round(place.ground_y - ground), round(place.cx - cover.shape[1] / 2)
    fy, fx, cy, cx = blit(frame, cover, top, left)
    a = cover[cy, cx, None]
    under = frame[fy, fx].astype(np.float32)
    under *= 1 / 255
    blend = car[cy, cx]  # under + (car - under) * coverage, in place (few temporaries)
    blend -= under
    blend *= a
    blend += under
    frame[fy, fx] = _to_u8(blend)
    alpha[fy, fx] = _to_u8(cover[cy, cx])
    return frame, alpha
