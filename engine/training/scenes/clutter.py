"""What dealer photos have around the main car and composites did not: neighbouring cars on a lot
that touch or overlap the main car's side, poles and posts in front of it, captions, watermarks
and price stickers over the frame. All of it is background: the label is the main car's coverage
less whatever stands in front of it.

Each piece takes the canvas as float32 RGB in [0, 1] (and the label where it changes it) and draws
from the composite's own generator, so a seed still gives the same photo.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.training.scenes.cutout import CarCutout
from engine.training.scenes.paste import Extras, Placement, paste_car

_WORDS = (
    "SALE",
    "NEW ARRIVAL",
    "$24,990",
    "€18.450",
    "0% APR",
    "AUTO CENTER",
    "CERTIFIED PRE-OWNED",
    "www.dealer-example.com",
    "CALL 555-0142",
    "SOLD",
    "LOW KM",
    "1 OWNER",
    "DRIVE TODAY",
    "© PHOTO STUDIO",
)


def neighbours(
    canvas: np.ndarray,
    main: Placement,
    cars: Callable[[np.random.Generator], CarCutout],
    rng: np.random.Generator,
) -> np.ndarray:
    """One or two parked cars beside the main one, of about its size on about its ground line,
    touching or overlapping its side (behind it: they are pasted first)."""
    out = canvas
    for side in rng.permutation([-1, 1])[: int(rng.integers(1, 3))]:
        w = main.width * rng.uniform(0.75, 1.15)
        # from a gap of a tenth of a car to a third of the car hidden behind the main one
        overlap = rng.uniform(-0.1, 0.35)
        cx = main.cx + side * (main.width / 2 + w / 2 - overlap * min(w, main.width))
        ground = main.ground_y - rng.uniform(0.0, 0.06) * main.width
        place = Placement(w, cx, ground, float(rng.normal(0, 1.0)))
        out, _ = paste_car(out, cars(rng), place, Extras(contact=rng.uniform(0.1, 0.5)))
    return out


def poles(canvas: np.ndarray, label: np.ndarray, rng: np.random.Generator):
    """One or two posts, bollards or a person-sized bar in front of the car."""
    h, w = label.shape
    cols = np.flatnonzero(label.max(axis=0) > 0.5)
    if cols.size == 0:
        return canvas, label
    cover = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 3))):
        x = float(rng.uniform(cols[0], cols[-1]))
        half = max(1.0, rng.uniform(0.004, 0.03) * w)
        top = 0 if rng.random() < 0.6 else int(rng.uniform(0.3, 0.8) * h)
        cv2.rectangle(cover, (int(x - half), top), (int(x + half), h), 1.0, -1)
    cover = cv2.GaussianBlur(cover, (0, 0), 0.7)[..., None]
    colour = rng.uniform(0.05, 0.9, 3).astype(np.float32)
    shade = np.linspace(0.7, 1.2, w, dtype=np.float32)[None, :, None]
    out = canvas * (1 - cover) + cover * np.clip(colour * shade, 0, 1)
    return out.astype(np.float32), label * (1 - cover[..., 0])


def _text_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    text = str(rng.choice(_WORDS))
    scale = rng.uniform(0.4, 2.0) * w / 672
    thick = max(1, round(scale * rng.uniform(1.5, 3)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = int(rng.uniform(0, max(1, w - tw)))
    y = int(rng.uniform(th + 2, max(th + 3, h - 2)))
    cv2.putText(mask, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
    return mask.astype(np.float32) / 255


def overlays(canvas: np.ndarray, label: np.ndarray, rng: np.random.Generator):
    """A caption bar, a price sticker, text or a faint watermark over the frame. Opaque marks
    take the car's label away where they cover it; a faint watermark leaves it (the car shows
    through)."""
    h, w = label.shape
    out = canvas.copy()
    kind = rng.choice(["bar", "sticker", "text", "watermark"], p=[0.25, 0.25, 0.3, 0.2])
    colour = rng.uniform(0, 1, 3).astype(np.float32)
    if kind == "bar":
        bh = int(rng.uniform(0.06, 0.15) * h)
        cover = np.zeros((h, w), np.float32)
        if rng.random() < 0.5:
            cover[h - bh :] = 1
        else:
            cover[:bh] = 1
        cover = np.maximum(cover * rng.uniform(0.75, 1), _text_mask(h, w, rng) * cover)
    elif kind == "sticker":
        cover = np.zeros((h, w), np.float32)
        sh, sw = int(rng.uniform(0.06, 0.18) * h), int(rng.uniform(0.1, 0.25) * w)
        y, x = int(rng.uniform(0, h - sh)), int(rng.uniform(0, w - sw))
        cv2.rectangle(cover, (x, y), (x + sw, y + sh), 1.0, -1)
    else:
        cover = _text_mask(h, w, rng)
    opacity = rng.uniform(0.15, 0.4) if kind == "watermark" else 1.0
    a = (cover * opacity)[..., None]
    out = out * (1 - a) + a * colour
    if kind != "watermark":
        label = label * (1 - cover)
    return out.astype(np.float32), label
