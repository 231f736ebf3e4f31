"""Procedural photo studios: a cyclorama wall and floor with a soft horizon (the cove), any
colour from white to black and saturated ones, gradients and light fall-off, and what studios and
showrooms have on their walls and floors (text and logos, light panels, doors, windows, pillars,
tiles, a glossy floor mirroring the wall).

`random_look` draws a look (optionally of a named kind), `render_studio` paints it. Everything is
float32 RGB in [0, 1]; the car, its shadows, reflection and turntable come later (`paste`).
"""

from __future__ import annotations

import colorsys
import string
from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("white", "grey", "black", "coloured", "showroom", "any")


@dataclass
class StudioLook:
    kind: str
    wall: np.ndarray  # RGB
    floor: np.ndarray
    horizon: float  # fraction of the height where the wall meets the floor
    cove: float  # width of the soft wall-to-floor blend, fraction of the height
    falloff: float  # light fall-off strength (0: even light)
    light_xy: tuple[float, float]
    gradient: float  # vertical brightness gradient of the wall
    glossy: float  # 0: matte floor; else the strength of the floor's mirror
    panels: int
    windows: int
    doors: int
    pillars: int
    texts: int
    tiles: bool
    turntable: bool


def _colour(rng: np.random.Generator, mode: str) -> np.ndarray:
    if mode == "white":
        return np.clip(rng.uniform(0.82, 1.0) + rng.normal(0, 0.02, 3), 0, 1)
    if mode == "grey":
        return np.clip(rng.uniform(0.3, 0.8) + rng.normal(0, 0.03, 3), 0, 1)
    if mode == "black":
        return np.clip(rng.uniform(0.01, 0.2) + rng.normal(0, 0.015, 3), 0, 1)
    if mode == "coloured":
        h, s, v = rng.uniform(0, 1), rng.uniform(0.45, 1.0), rng.uniform(0.3, 1.0)
        return np.array(colorsys.hsv_to_rgb(h, s, v))
    return rng.uniform(0, 1, 3)


def random_look(rng: np.random.Generator, kind: str | None = None) -> StudioLook:
    kind = kind or str(rng.choice(KINDS, p=[0.24, 0.14, 0.16, 0.18, 0.18, 0.10]))
    mode = {"showroom": str(rng.choice(["white", "grey", "any"]))}.get(kind, kind)
    wall = _colour(rng, mode)
    if rng.random() < 0.5:
        floor = np.clip(wall * rng.uniform(0.75, 1.1), 0, 1)
    else:
        floor = _colour(rng, str(rng.choice(["white", "grey", "black", "coloured", "any"])))
    showroom = kind == "showroom"
    return StudioLook(
        kind=kind,
        wall=wall,
        floor=floor,
        horizon=rng.uniform(0.3, 0.72),
        cove=rng.uniform(0.01, 0.25) if rng.random() < 0.8 else 0.0,
        falloff=rng.uniform(0, 0.6),
        light_xy=(rng.uniform(0.1, 0.9), rng.uniform(-0.2, 0.6)),
        gradient=rng.uniform(-0.3, 0.3),
        glossy=rng.uniform(0.15, 0.5) if rng.random() < (0.6 if showroom else 0.3) else 0.0,
        panels=int(rng.integers(0, 4)) if rng.random() < 0.5 else 0,
        windows=int(rng.integers(1, 4)) if showroom or rng.random() < 0.15 else 0,
        doors=int(rng.integers(0, 3)) if showroom or rng.random() < 0.2 else 0,
        pillars=int(rng.integers(0, 3)) if showroom or rng.random() < 0.15 else 0,
        texts=int(rng.integers(0, 3)) if rng.random() < 0.35 else 0,
        tiles=bool(rng.random() < (0.5 if showroom else 0.15)),
        turntable=bool(rng.random() < 0.3),
    )


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _wall_and_floor(look: StudioLook, h: int, w: int) -> np.ndarray:
    y = (np.arange(h, dtype=np.float32) / h)[:, None]
    x = (np.arange(w, dtype=np.float32) / w)[None, :]
    hy = look.horizon
    t = _smoothstep((y - hy) / max(look.cove, 1e-3) + 0.5) if look.cove else (y >= hy) * 1.0
    wall_shade = 1 + look.gradient * (0.5 - y)
    floor_shade = 1 + 0.25 * look.gradient * (y - hy)
    lx, ly = look.light_xy
    d2 = ((x - lx) * w / max(h, w)) ** 2 + ((y - ly) * h / max(h, w)) ** 2
    light = np.clip(1 - look.falloff * d2 * 2.0, 0.15, 1.2)
    t3 = t[..., None]
    base = (1 - t3) * look.wall * wall_shade[..., None] + t3 * look.floor * floor_shade[..., None]
    return (base * light[..., None]).astype(np.float32)


def _rect(img, x0, y0, x1, y1, colour, thickness=-1):
    cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), tuple(map(float, colour)), thickness)


def _wall_items(img: np.ndarray, look: StudioLook, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    hy = int(look.horizon * h)
    for _ in range(look.windows):  # bright glazing with mullions, bottom at the floor or above
        ww, wh = rng.uniform(0.1, 0.35) * w, rng.uniform(0.25, 0.8) * hy
        x0, y1 = rng.uniform(0, w - ww), hy - rng.uniform(0, 0.2) * hy
        sky = np.clip(
            rng.uniform(0.6, 1.0) * np.array([0.85, 0.92, 1.0]) * rng.uniform(0.8, 1.1), 0, 1
        )
        _rect(img, x0, y1 - wh, x0 + ww, y1, sky)
        frame = _colour(rng, str(rng.choice(["white", "black", "grey"])))
        t = max(1, int(rng.uniform(0.004, 0.012) * w))
        _rect(img, x0, y1 - wh, x0 + ww, y1, frame, t)
        for k in range(1, int(rng.integers(1, 5))):
            xm = x0 + ww * k / 4
            cv2.line(img, (int(xm), int(y1 - wh)), (int(xm), int(y1)), tuple(map(float, frame)), t)
    for _ in range(look.doors):
        dw, dh = rng.uniform(0.06, 0.16) * w, rng.uniform(0.5, 0.95) * hy
        x0 = rng.uniform(0, w - dw)
        colour = np.clip(look.wall * rng.uniform(0.4, 1.3) + rng.normal(0, 0.05, 3), 0, 1)
        _rect(img, x0, hy - dh, x0 + dw, hy, colour)
        _rect(img, x0, hy - dh, x0 + dw, hy, colour * 0.6, max(1, int(0.004 * w)))
        cv2.circle(
            img,
            (int(x0 + 0.85 * dw), int(hy - 0.45 * dh)),
            max(1, int(0.004 * w)),
            (0.8, 0.8, 0.75),
            -1,
        )
    for _ in range(look.panels):  # soft light boxes / LED panels
        pw, ph = rng.uniform(0.05, 0.3) * w, rng.uniform(0.03, 0.25) * h
        x0, y0 = rng.uniform(0, w - pw), rng.uniform(0, max(1, hy - ph))
        glow = np.zeros((h, w), np.float32)
        _rect(glow, x0, y0, x0 + pw, y0 + ph, (1.0,))
        glow = np.maximum(glow, cv2.GaussianBlur(glow, (0, 0), max(1.0, 0.02 * w)) * 0.6)
        tint = np.clip(1 + rng.normal(0, 0.04, 3), 0.8, 1.1)
        img[:] = img * (1 - glow[..., None]) + glow[..., None] * tint
    for _ in range(look.texts):  # wall lettering and logos
        n = int(rng.integers(3, 12))
        text = "".join(rng.choice(list(string.ascii_uppercase + "  "), n))
        scale = rng.uniform(0.4, 2.0) * w / 640
        colour = _colour(rng, str(rng.choice(["white", "black", "coloured"])))
        x, y = int(rng.uniform(0, 0.7) * w), int(rng.uniform(0.1, 0.9) * hy)
        ink = np.zeros((h, w), np.uint8)  # OpenCV draws text on 8-bit images only
        cv2.putText(
            ink,
            text,
            (x, y),
            int(rng.integers(0, 8)),
            scale,
            255,
            max(1, int(scale * 2)),
            cv2.LINE_AA,
        )
        if rng.random() < 0.4:
            r = int(rng.uniform(0.02, 0.07) * w)
            cv2.circle(ink, (max(0, x - 2 * r), y - r // 2), r, 255, -1, cv2.LINE_AA)
        a = ink[..., None].astype(np.float32) / 255.0
        img[:] = img * (1 - a) + a * colour
    for _ in range(look.pillars):  # round-shaded columns standing on the floor
        pw = rng.uniform(0.03, 0.1) * w
        x0 = rng.uniform(0, w - pw)
        y1 = int(min(h, hy + rng.uniform(0.02, 0.2) * h))
        base = _colour(rng, str(rng.choice(["white", "grey", "black"])))
        xs = np.linspace(-1, 1, max(1, int(pw)))
        shade = (0.55 + 0.45 * np.sqrt(np.clip(1 - xs**2, 0, 1)))[None, :, None]
        x0i = int(x0)
        img[:y1, x0i : x0i + shade.shape[1]] = base * shade


def _floor_items(img: np.ndarray, look: StudioLook, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    hy = int(look.horizon * h)
    if look.glossy:  # the wall mirrored in the floor, fading with distance from the horizon
        depth = h - hy
        mirror = img[max(0, hy - depth) : hy][::-1]
        mirror = cv2.GaussianBlur(mirror, (0, 0), max(1.0, rng.uniform(0.002, 0.01) * w))
        fade = look.glossy * (1 - np.arange(mirror.shape[0]) / max(depth, 1)) ** 1.5
        part = img[hy : hy + mirror.shape[0]]
        f = fade[: part.shape[0], None, None].astype(np.float32)
        part[:] = part * (1 - f) + mirror[: part.shape[0]] * f
    if look.tiles:
        colour = tuple(map(float, np.clip(look.floor * rng.uniform(0.6, 1.3), 0, 1)))
        vx = w * rng.uniform(0.2, 0.8)
        n = int(rng.integers(4, 12))
        for k in range(-n, 2 * n):
            x = k * w / n
            cv2.line(img, (int(vx + (x - vx) * 0.2), hy), (int(x), h), colour, 1, cv2.LINE_AA)
        y, step = float(hy), rng.uniform(0.01, 0.03) * h
        while y < h:
            cv2.line(img, (0, int(y)), (w, int(y)), colour, 1, cv2.LINE_AA)
            step *= 1.35
            y += step


def render_studio(look: StudioLook, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """The backdrop of `look` at h x w (float32 RGB in [0, 1])."""
    img = _wall_and_floor(look, h, w)
    _wall_items(img, look, rng)
    _floor_items(img, look, rng)
    return np.clip(img, 0, 1)
