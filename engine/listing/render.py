"""One framed angle: the backdrop, the shadows the car casts on it, then the car itself with
its edge colours decontaminated (nothing of the photo's old backdrop at the edge), placed as
its `FramePlan` says. Built on the scene compositor (`engine.scenes.paste`), which does the
same for training."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.listing.choices import SHADOWS
from engine.listing.framing import CarBox, FramePlan
from engine.scenes.cutout import make_cutout
from engine.scenes.paste import Extras, Placement, paste_car

CROP_PAD = 8  # `make_cutout` crops the car's box with this much around it
FAINT = 2 / 255


@dataclass(frozen=True)
class Backdrop:
    """A solid colour (`top` only), a vertical gradient (`top` to `bottom`), or an image (the
    studio's branded showroom, H×W×3 uint8) scaled to cover the frame and centred."""

    top: tuple[int, int, int] = (255, 255, 255)
    bottom: tuple[int, int, int] | None = None
    image: np.ndarray | None = field(default=None, compare=False)

    def render(self, width: int, height: int) -> np.ndarray:
        """H×W×3 float32 in 0..1."""
        if self.image is not None:
            ih, iw = self.image.shape[:2]
            k = max(width / iw, height / ih)
            nw, nh = max(width, round(iw * k)), max(height, round(ih * k))
            interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
            big = cv2.resize(self.image, (nw, nh), interpolation=interp)
            y0, x0 = (nh - height) // 2, (nw - width) // 2
            return big[y0 : y0 + height, x0 : x0 + width].astype(np.float32) / 255
        top = np.asarray(self.top, np.float32) / 255
        if self.bottom is None:
            return np.broadcast_to(top, (height, width, 3)).copy()
        bottom = np.asarray(self.bottom, np.float32) / 255
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        return np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()


@dataclass(frozen=True)
class ShadowStyle:
    kind: str = "contact"  # contact | drop | none
    strength: float = 0.5  # 0..1: how dark it is at its darkest

    def __post_init__(self):
        if self.kind not in SHADOWS:
            raise ValueError(f"shadow must be one of {', '.join(SHADOWS)}, got {self.kind!r}")
        if not 0 <= self.strength <= 1:
            raise ValueError(f"shadow strength must be from 0 to 1, got {self.strength}")

    def extras(self) -> Extras:
        s = self.strength if self.kind != "none" else 0.0
        return Extras(contact=s, drop=0.6 * s if self.kind == "drop" else 0.0, drop_dx=0.08)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


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
    m = np.zeros((h, w), bool)  # the car alone: specks outside its box are left out
    inside = mask[box.y0 : box.y1, box.x0 : box.x1]
    m[box.y0 : box.y1, box.x0 : box.x1] = inside if inside.dtype == bool else inside > 127
    cut_scale = min(1.0, plan.scale)  # cut out at the output's scale: less to work on
    cut = make_cutout(rgb, m, cut_scale)
    crop_x0, crop_x1 = max(0, box.x0 - CROP_PAD), min(w, box.x1 + CROP_PAD)
    # the car box's centre goes to the frame's centre (the crop's pad may be cut by the edge)
    off = ((box.x0 + box.x1) / 2 - (crop_x0 + crop_x1) / 2) * plan.scale
    width = cut.size[1] * plan.scale / cut_scale
    place = Placement(width=width, cx=plan.cx - off, ground_y=plan.ground_y)
    fw, fh = plan.size
    floor = backdrop.render(fw, fh)
    out, alpha = paste_car(floor, cut, place, (shadow or ShadowStyle()).extras())
    # a shadow's faint tails (under 2 levels in 255) are not painted: the backdrop stays exact
    faint = (alpha == 0) & (np.abs(out - floor).max(axis=-1) < FAINT)
    out[faint] = floor[faint]
    return _to_u8(out), _to_u8(alpha)
