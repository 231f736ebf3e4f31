"""A car on a backdrop: its turntable disc, contact and drop shadows and floor reflection are
painted into the backdrop first (they are background), then the car is blended in with its
coverage as alpha. The label is the pasted car's coverage alone: any car already in the backdrop
(a street scene's, a second car further back) stays background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.training.scenes.cutout import CarCutout


@dataclass
class Placement:
    """Where the car goes: its width in pixels, the centre of its ground line (x, y) on the
    canvas, a small rotation in degrees."""

    width: float
    cx: float
    ground_y: float
    angle: float = 0.0


@dataclass
class Extras:
    contact: float = 0.0  # strength of the contact shadow under the tyres and sill (0: none)
    drop: float = 0.0  # strength of the soft drop shadow cast on the floor
    drop_dx: float = 0.0  # its horizontal shift, in car widths
    reflection: float = 0.0  # opacity of the mirrored car on a glossy floor
    turntable: np.ndarray | None = None  # the disc's RGB, or None
    match_light: float = 0.0  # 0..1: pull the car's brightness and tint towards the backdrop's


def scaled(cut: CarCutout, place: Placement) -> tuple[np.ndarray, np.ndarray, int]:
    """The cut-out at the placement's width and rotation: rgb, alpha and its ground row."""
    h, w = cut.size
    k = place.width / w
    nh, nw = max(2, round(h * k)), max(2, round(place.width))
    if (nh, nw) == (h, w):  # at its own scale already: no copy
        rgb, alpha = cut.rgb, cut.alpha
    else:
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
        rgb = cv2.resize(cut.rgb, (nw, nh), interpolation=interp)
        alpha = cv2.resize(cut.alpha, (nw, nh), interpolation=interp)
    if abs(place.angle) > 0.05:
        m = cv2.getRotationMatrix2D((nw / 2, nh / 2), place.angle, 1.0)
        rgb = cv2.warpAffine(
            rgb, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        alpha = cv2.warpAffine(alpha, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    if alpha is not cut.alpha:
        alpha = np.clip(alpha, 0, 1)
    rows = np.flatnonzero(alpha.max(axis=1) > 0.5)
    ground = int(rows[-1]) if rows.size else nh - 1
    return rgb, alpha, ground


def blit(
    canvas: np.ndarray, layer: np.ndarray, y0: int, x0: int
) -> tuple[slice, slice, slice, slice]:
    """Slices of the canvas and of a layer placed with its top-left at (y0, x0), clipped."""
    H, W = canvas.shape[:2]
    h, w = layer.shape[:2]
    cy0, cx0, cy1, cx1 = max(0, y0), max(0, x0), min(H, y0 + h), min(W, x0 + w)
    if cy0 >= cy1 or cx0 >= cx1:
        return slice(0, 0), slice(0, 0), slice(0, 0), slice(0, 0)
    return slice(cy0, cy1), slice(cx0, cx1), slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0)


def _layer(shape: tuple[int, int], src: np.ndarray, y0: int, x0: int) -> np.ndarray:
    """`src` (2-D) placed on an empty canvas-sized plane."""
    out = np.zeros(shape, np.float32)
    cy, cx, ly, lx = blit(out, src, y0, x0)
    out[cy, cx] = src[ly, lx]
    return out


def shadow_map(alpha: np.ndarray, ground: int, y0: int, x0: int, shape, ex: Extras) -> np.ndarray:
    """How much the car's contact and drop shadows darken each pixel of a plane of `shape`
    (0..1), for the car's coverage `alpha` with its top-left at (y0, x0), standing on `ground`."""
    h, w = alpha.shape
    shadow = np.zeros(shape, np.float32)
    gy = y0 + ground
    if ex.contact:  # dark under the tyres and sill, fading quickly with distance
        ell = np.zeros(shape, np.float32)
        cx = x0 + w / 2
        cv2.ellipse(
            ell,
            (int(cx), int(gy)),
            (int(w * 0.47), max(2, int(h * 0.05))),
            0,
            0,
            360,
            1.0,
            -1,
            cv2.LINE_AA,
        )
        ell = cv2.GaussianBlur(ell, (0, 0), max(1.0, 0.02 * w))
        low = _layer(shape, alpha, y0 + max(1, int(0.02 * h)), x0)
        low[: max(0, int(gy - 0.25 * h))] = 0  # only the lower body darkens the floor
        low = cv2.GaussianBlur(low, (0, 0), max(1.0, 0.015 * w))
        shadow = np.maximum(shadow, ex.contact * np.clip(ell + 0.8 * low, 0, 1))
    if ex.drop:  # the silhouette laid flat on the floor, sheared and very soft
        flat_h = max(2, int(h * 0.3))
        flat = cv2.resize(alpha, (w, flat_h), interpolation=cv2.INTER_AREA)[::-1]
        shear = ex.drop_dx * w
        m = np.array([[1, shear / flat_h, 0], [0, 1, 0]], np.float32)
        flat = cv2.warpAffine(np.ascontiguousarray(flat), m, (w + int(abs(shear)) + 2, flat_h))
        plane = _layer(shape, flat, int(gy - 0.1 * flat_h), x0 + int(min(0, shear)))
        plane = cv2.GaussianBlur(plane, (0, 0), max(1.0, 0.05 * w))
        shadow = np.maximum(shadow, ex.drop * plane)
    return shadow


def paste_car(
    backdrop: np.ndarray, cut: CarCutout, place: Placement, ex: Extras | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The composite (float32 RGB) and its label (float32 car coverage, the pasted car only)."""
    ex = ex or Extras()
    out = backdrop.astype(np.float32, copy=True)
    shape = out.shape[:2]
    rgb, alpha, ground = scaled(cut, place)
    h, w = alpha.shape
    y0, x0 = round(place.ground_y - ground), round(place.cx - w / 2)
    gy = y0 + ground
    if ex.turntable is not None:
        disc = np.zeros(shape, np.float32)
        axes = (int(w * 0.68), max(3, int(w * 0.12)))
        cv2.ellipse(
            disc, (int(place.cx), int(gy - 0.03 * h)), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA
        )
        rim = np.zeros(shape, np.float32)
        cv2.ellipse(rim, (int(place.cx), int(gy - 0.03 * h)), axes, 0, 0, 360, 1.0, 2, cv2.LINE_AA)
        d = disc[..., None]
        out = out * (1 - d) + d * ex.turntable
        out *= 1 - 0.4 * rim[..., None]
    # shadows are worked out in a window around the car (blurs over the whole frame are slow)
    ry0, rx0 = max(0, y0 - h // 2), max(0, x0 - w)
    ry1, rx1 = min(shape[0], y0 + 2 * h), min(shape[1], x0 + 2 * w)
    if ry0 < ry1 and rx0 < rx1:
        local = (ry1 - ry0, rx1 - rx0)
        shadow = shadow_map(alpha, ground, y0 - ry0, x0 - rx0, local, ex)
        out[ry0:ry1, rx0:rx1] *= 1 - shadow[..., None]
    if ex.match_light:
        cy, cx, ly, lx = blit(out, alpha, y0, x0)
        a = alpha[ly, lx]
        if a.sum() > 16:
            bg = out[cy, cx].reshape(-1, 3).mean(0) + 1e-3
            car = (rgb[ly, lx] * a[..., None]).reshape(-1, 3).sum(0) / a.sum() + 1e-3
            gain = np.clip((bg.mean() / car.mean()) ** (0.35 * ex.match_light), 0.6, 1.5)
            tint = (bg / bg.mean()) ** (0.25 * ex.match_light)
            rgb = np.clip(rgb * gain * tint, 0, 1)
    if ex.reflection:  # the car mirrored about its ground line, fading downwards
        mirror_rgb, mirror_a = rgb[: ground + 1][::-1], alpha[: ground + 1][::-1]
        fade = ex.reflection * np.clip(1 - np.arange(mirror_a.shape[0]) / (0.45 * h), 0, 1) ** 2
        ma = mirror_a * fade[:, None]
        cy, cx, ly, lx = blit(out, ma, gy, x0)
        a3 = ma[ly, lx][..., None]
        out[cy, cx] = out[cy, cx] * (1 - a3) + mirror_rgb[ly, lx] * a3
    label = np.zeros(shape, np.float32)
    cy, cx, ly, lx = blit(out, alpha, y0, x0)
    a3 = alpha[ly, lx][..., None]
    out[cy, cx] = out[cy, cx] * (1 - a3) + rgb[ly, lx] * a3
    label[cy, cx] = alpha[ly, lx]
    return np.clip(out, 0, 1), label
