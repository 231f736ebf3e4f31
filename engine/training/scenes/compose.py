"""One composed training photo: a canvas of a random aspect ratio at the model's pixel budget, a
backdrop (procedural studio or real street scene), the car with its shadows and reflection, maybe
a second car further back (background), then the camera: white balance, exposure, blur, noise and
JPEG over the whole frame, so car and backdrop share them and no seam gives the paste away.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.io import read_rgb
from engine.training.scenes import clutter
from engine.training.scenes.cutout import CarCutout
from engine.training.scenes.paste import Extras, Placement, paste_car
from engine.training.scenes.sources import Scene
from engine.training.scenes.studio import StudioLook, random_look, render_studio

ASPECTS = {
    "3:2": 3 / 2,
    "4:3": 4 / 3,
    "16:9": 16 / 9,
    "1:1": 1.0,
    "2:3": 2 / 3,
    "3:4": 3 / 4,
    "9:16": 9 / 16,
}
ASPECT_P = (0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05)


@dataclass
class Composite:
    rgb: np.ndarray  # H x W x 3 uint8
    label: np.ndarray  # H x W uint8 car coverage (0..255), the main car only
    kind: str  # "studio:<look>" or "street"
    box: tuple[int, int, int, int] | None  # the main car's (y0, x0, y1, x1) on the canvas


def canvas_size(aspect: float, budget: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of that aspect ratio (w / h) with the pixel count of `budget`."""
    area = budget[0] * budget[1]
    return round(math.sqrt(area / aspect)), round(math.sqrt(area * aspect))


def photometric(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera over the whole frame (float32 RGB in [0, 1] → uint8): blur, white balance,
    exposure and gamma (as lookup tables), sensor noise, JPEG."""
    if rng.random() < 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.3, 1.2))
    out = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    v = np.arange(256, dtype=np.float32) / 255
    wb = np.clip(rng.normal(1, 0.06, 3), 0.85, 1.15) * rng.uniform(0.7, 1.3)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.stack([np.clip(v * g, 0, 1) ** gamma for g in wb], -1)
    out = cv2.LUT(out, np.clip(lut * 255 + 0.5, 0, 255).astype(np.uint8)[:, None, :])
    if rng.random() < 0.5:
        # drawn from `rng` (not OpenCV's global state), so a seed gives the same photo
        sigma = np.float32(rng.uniform(1, 8))
        noise = rng.standard_normal(out.shape, dtype=np.float32) * sigma
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        _, buf = cv2.imencode(
            ".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 96))]
        )
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is not None:
            out = np.ascontiguousarray(decoded[..., ::-1])
    return np.ascontiguousarray(out)


def _cover(img: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """`img` scaled to cover h x w (aspect kept), a random window of it."""
    k = max(h / img.shape[0], w / img.shape[1]) * rng.uniform(1.0, 1.3)
    big = cv2.resize(
        img,
        (max(w, round(img.shape[1] * k)), max(h, round(img.shape[0] * k))),
        interpolation=cv2.INTER_LINEAR,
    )
    y0 = int(rng.integers(0, big.shape[0] - h + 1))
    x0 = int(rng.integers(0, big.shape[1] - w + 1))
    return big[y0 : y0 + h, x0 : x0 + w]


class Composer:
    """Composites from car cut-outs (`cars(rng)` draws one) and street scenes."""

    def __init__(
        self,
        cars: Callable[[np.random.Generator], CarCutout],
        scenes: Sequence[Scene] = (),
        budget: tuple[int, int] = (448, 672),
        camera: bool = True,
        small_cars: float = 0.0,
        clutter: float = 0.0,
        dark: float = 0.0,
    ):
        """`small_cars`: the share of composites whose main car is small (6-25 % of the frame's
        width, as in a landscape or a lot seen from afar); `clutter`: the share with what dealer
        photos add (`engine.training.scenes.clutter`: neighbours touching the car, posts in front,
        captions and stickers); `dark`: the share of studio composites with a dark car on a black
        backdrop (the look a dark car is lost in). 0 keeps every draw as it was, so the
        benchmark's held-out composites do not change."""
        self.cars, self.scenes, self.budget, self.camera = cars, list(scenes), budget, camera
        self.small_cars, self.clutter, self.dark = small_cars, clutter, dark
        self._scene_cache: dict[int, np.ndarray] = {}

    def size(self, rng: np.random.Generator, aspect: str | None = None) -> tuple[int, int]:
        name = aspect or str(rng.choice(list(ASPECTS), p=ASPECT_P))
        return canvas_size(ASPECTS[name], self.budget)

    def _scene(self, i: int) -> np.ndarray:
        if i not in self._scene_cache:
            if len(self._scene_cache) > 800:
                self._scene_cache.clear()
            self._scene_cache[i] = read_rgb(self.scenes[i].image).astype(np.float32) / 255.0
        return self._scene_cache[i]

    def _placement(self, rng, h: int, w: int, floor_y: float, cut: CarCutout) -> Placement:
        small = self.small_cars > 0 and rng.random() < self.small_cars
        frac = rng.uniform(0.06, 0.25) if small else rng.uniform(0.25, 0.95)
        width = frac * w
        car_h = width * cut.size[0] / cut.size[1]
        # mostly near the middle; else anywhere, maybe cut by the frame's edge
        cx = rng.uniform(0.3, 0.7) * w if rng.random() < 0.75 else rng.uniform(0.0, 1.0) * w
        lo = max(floor_y, min(h * 0.98, car_h * 0.85))
        ground = (
            rng.uniform(lo, max(lo, h * 0.97)) if rng.random() < 0.85 else rng.uniform(h, 1.1 * h)
        )
        angle = rng.normal(0, 1.5) if rng.random() < 0.5 else 0.0
        return Placement(width, cx, ground, float(np.clip(angle, -4, 4)))

    def _second_car(self, rng, canvas, main: Placement) -> np.ndarray:
        """A car further back (smaller, higher up), pasted as background."""
        other = self.cars(rng)
        w = main.width * rng.uniform(0.35, 0.8)
        h = canvas.shape[0]
        place = Placement(
            w, rng.uniform(0, 1) * canvas.shape[1], main.ground_y - rng.uniform(0.04, 0.2) * h
        )
        out, _ = paste_car(canvas, other, place, Extras(contact=rng.uniform(0.1, 0.5)))
        return out

    def _dark_car(self, rng) -> CarCutout:
        """The darkest of three cars, its paint darkened further: a power curve keeps the
        highlights (1 stays 1) and sinks the body colour, as black or dark-blue paint does."""
        cuts = [self.cars(rng) for _ in range(3)]
        cut = min(cuts, key=lambda c: float((c.rgb.mean(axis=2) * c.alpha).sum() / c.alpha.sum()))
        rgb = np.power(cut.rgb, rng.uniform(1.5, 3.0)).astype(np.float32)
        return CarCutout(rgb, cut.alpha)

    def _cluttered(self, rng) -> bool:
        return self.clutter > 0 and rng.random() < self.clutter

    def _paste_main(self, rng, canvas, cut, place, ex):
        """The main car with, in a cluttered composite, neighbours behind it and posts, text or
        stickers in front."""
        if not self._cluttered(rng):
            return paste_car(canvas, cut, place, ex)
        if rng.random() < 0.6:
            canvas = clutter.neighbours(canvas, place, self.cars, rng)
        canvas, label = paste_car(canvas, cut, place, ex)
        if rng.random() < 0.25:
            canvas, label = clutter.poles(canvas, label, rng)
        if rng.random() < 0.45:
            canvas, label = clutter.overlays(canvas, label, rng)
        return canvas, label

    def _finish(self, canvas, label, kind: str, rng) -> Composite:
        rgb = (
            photometric(canvas, rng)
            if self.camera
            else np.clip(canvas * 255 + 0.5, 0, 255).astype(np.uint8)
        )
        lab = np.clip(label * 255 + 0.5, 0, 255).astype(np.uint8)
        ys, xs = np.nonzero(lab > 127)
        box = (
            (int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1)
            if ys.size
            else None
        )
        return Composite(rgb, lab, kind, box)

    def studio(
        self,
        rng: np.random.Generator,
        look: StudioLook | None = None,
        size: tuple[int, int] | None = None,
        cut: CarCutout | None = None,
    ) -> Composite:
        h, w = size or self.size(rng)
        if look is None and self.dark > 0 and rng.random() < self.dark:
            look, cut = random_look(rng, "black"), cut or self._dark_car(rng)
            look = dataclasses.replace(look, floor=np.clip(look.wall * rng.uniform(0.7, 1.3), 0, 1))
        look = look or random_look(rng)
        canvas = render_studio(look, h, w, rng)
        cut = cut or self.cars(rng)
        place = self._placement(rng, h, w, look.horizon * h + 0.04 * h, cut)
        if rng.random() < (0.4 if look.kind == "showroom" else 0.1):
            canvas = self._second_car(rng, canvas, place)
        ex = Extras(
            contact=rng.uniform(0.2, 0.75) if rng.random() < 0.8 else 0.0,
            drop=rng.uniform(0.15, 0.5) if rng.random() < 0.5 else 0.0,
            drop_dx=rng.uniform(-0.4, 0.4),
            reflection=rng.uniform(0.1, 0.4) if look.glossy and rng.random() < 0.85 else 0.0,
            turntable=np.clip(look.floor * rng.uniform(0.7, 1.25), 0, 1)
            if look.turntable
            else None,
            match_light=rng.uniform(0, 1),
        )
        canvas, label = self._paste_main(rng, canvas, cut, place, ex)
        return self._finish(canvas, label, f"studio:{look.kind}", rng)

    def street(
        self,
        rng: np.random.Generator,
        scene: int | None = None,
        size: tuple[int, int] | None = None,
        cut: CarCutout | None = None,
    ) -> Composite:
        if not self.scenes:
            raise ValueError("no street scenes to compose with")
        h, w = size or self.size(rng)
        i = int(rng.integers(len(self.scenes))) if scene is None else scene
        canvas = np.ascontiguousarray(_cover(self._scene(i), h, w, rng))
        cut = cut or self.cars(rng)
        place = self._placement(rng, h, w, 0.5 * h, cut)
        if rng.random() < 0.2:
            canvas = self._second_car(rng, canvas, place)
        ex = Extras(
            contact=rng.uniform(0.2, 0.6) if rng.random() < 0.7 else 0.0,
            drop=rng.uniform(0.1, 0.4) if rng.random() < 0.3 else 0.0,
            drop_dx=rng.uniform(-0.5, 0.5),
            reflection=rng.uniform(0.05, 0.2) if rng.random() < 0.05 else 0.0,
            match_light=rng.uniform(0.3, 1),
        )
        canvas, label = self._paste_main(rng, canvas, cut, place, ex)
        return self._finish(canvas, label, "street", rng)
