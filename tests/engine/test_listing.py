"""Listing output on the 16 real angles of one Carvana car (tests/data/listing, downscaled, with
their hand-made masks): one frame for the set, the backdrop exact, shadows where the car stands,
no halo of the old studio at the edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from cutout_checks import edge_excess

from engine.io import read_mask, read_rgb
from engine.listing.choices import SIZE_PRESETS, parse_size
from engine.listing.framing import car_box, plan_frames
from engine.listing.render import Backdrop, ShadowStyle, render_angle

LISTING = Path(__file__).resolve().parents[1] / "data" / "listing"
BLUE = (20, 40, 160)


@pytest.fixture(scope="module")
def angles() -> list[tuple[np.ndarray, np.ndarray]]:
    photos = sorted(LISTING.glob("*_[0-9][0-9].jpg"))
    assert len(photos) == 16
    return [(read_rgb(p), read_mask(p.with_name(p.stem + "_mask.png"))) for p in photos]


def _frame_set(angles, size, backdrop, shadow=None, margin=0.06):
    boxes = [car_box(m) for _, m in angles]
    plans = plan_frames(boxes, size, margin)
    return [
        render_angle(rgb, m, box, plan, backdrop, shadow)
        for (rgb, m), box, plan in zip(angles, boxes, plans, strict=True)
    ], plans


def _rows(alpha: np.ndarray) -> np.ndarray:
    return np.flatnonzero((alpha > 127).any(axis=1))


@pytest.mark.parametrize("size", ["1600x1200", "1080x1080"])
def test_every_angle_of_the_car_is_framed_alike(angles, size):
    """The spin does not breathe: same height (within 1 %), same ground row (±2 px), centred,
    inside the margins, at the size asked for."""
    w, h = parse_size(size)
    framed, plans = _frame_set(angles, (w, h), Backdrop(BLUE), ShadowStyle("none"))
    heights, grounds = [], []
    for out, alpha in framed:
        assert out.shape == (h, w, 3) and alpha.shape == (h, w)
        rows, cols = _rows(alpha), np.flatnonzero((alpha > 127).any(axis=0))
        heights.append(rows[-1] - rows[0] + 1)
        grounds.append(rows[-1])
        assert abs((cols[0] + cols[-1]) / 2 - w / 2) <= 3
        margin = 0.06 * w
        assert cols[0] >= margin - 2 and cols[-1] <= w - margin + 2
        assert rows[0] >= 0.06 * h - 2
    assert (max(heights) - min(heights)) / max(heights) <= 0.01, heights
    assert max(grounds) - min(grounds) <= 2, grounds
    assert not any(p.upscaled for p in plans) or w > 480  # 480x320 photos: upscaled, said so
    assert all(p.upscaled for p in plans)  # the fixtures are smaller than these frames


def test_backdrop_exact_away_from_the_car_and_shadow_darker_under_it(angles):
    ((out_plain, alpha),) = _frame_set(
        angles[2:3], (1024, 768), Backdrop(BLUE), ShadowStyle("none")
    )[0]
    ((out_shadow, alpha2),) = _frame_set(
        angles[2:3], (1024, 768), Backdrop(BLUE), ShadowStyle("contact", 0.6)
    )[0]
    assert np.array_equal(alpha, alpha2)
    car = alpha > 0
    assert (out_plain[~car] == BLUE).all()  # no shadow asked for: backdrop everywhere else
    rows, cols = _rows(alpha), np.flatnonzero(car.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    far = np.ones(car.shape, bool)  # the shadow lies on the floor, under and beside the car
    floor_rows = slice(rows[-1] - int(0.4 * height), None)
    far[floor_rows, max(0, cols[0] - int(0.12 * width)) : cols[-1] + int(0.12 * width)] = False
    assert (out_shadow[far & ~car] == BLUE).all()  # elsewhere: the backdrop, exactly
    rows = _rows(alpha)
    # under the tyres: the columns whose lowest car pixel stands on the ground row
    bottom = car.shape[0] - 1 - np.argmax(car[::-1], axis=0)
    tyres = np.flatnonzero(car.any(axis=0) & (bottom >= rows[-1] - 2))
    below = np.concatenate([out_shadow[bottom[x] + 1 : bottom[x] + 4, x] for x in tyres])
    assert tyres.size and below.astype(int).sum(-1).mean() < np.sum(BLUE) - 40  # darker


def test_gradient_and_image_backdrops(angles):
    top, bottom = (250, 250, 250), (120, 120, 130)
    ((out, _),) = _frame_set(angles[:1], (640, 480), Backdrop(top, bottom), ShadowStyle("none"))[0]
    assert tuple(out[0, 0]) == top and tuple(out[-1, 0]) == bottom
    left = out[:, 0].astype(int).sum(-1)
    assert (np.diff(left) <= 0).all()  # darker downwards, step by step
    showroom = np.zeros((300, 900, 3), np.uint8)
    showroom[:, :450] = (200, 30, 30)
    showroom[:, 450:] = (30, 200, 30)
    ((out, _),) = _frame_set(angles[:1], (640, 480), Backdrop(image=showroom), ShadowStyle("none"))[
        0
    ]
    assert tuple(out[5, 5]) == (200, 30, 30) and tuple(out[5, -5]) == (30, 200, 30)


def test_no_halo_of_the_old_studio_at_the_edge(angles):
    """Carvana's backdrop is light grey; on a black backdrop its halo would show as edge pixels
    lighter than the car they belong to. Decontaminated, an edge pixel is its coverage times the
    car's own colour nearby: nothing of the old studio."""
    black = (0, 0, 0)
    framed, _ = _frame_set(angles[::5], (1024, 768), Backdrop(black), ShadowStyle("none"))
    for out, alpha in framed:
        rows = _rows(alpha)
        upper = np.zeros(alpha.shape, bool)
        upper[: rows[0] + (rows[-1] - rows[0]) // 2] = True  # above the floor and its shadow
        ring = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
        assert (out[(ring > 0) & (alpha == 0) & upper] == black).all()  # outside: the backdrop
        excess = edge_excess(out, alpha, upper)
        assert np.median(excess) <= 3 and np.percentile(excess, 90) <= 12


def test_bad_sizes_and_settings_are_refused_with_the_reason():
    assert parse_size(" 1600X1200 ") == (1600, 1200) and set(SIZE_PRESETS) >= {"1080x1080"}
    for bad in ("1600", "0x0", "1600x99999", "big"):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)
    with pytest.raises(ValueError, match="shadow must be one of"):
        ShadowStyle("real-ish")
    with pytest.raises(ValueError, match="margin"):
        plan_frames([car_box(np.ones((10, 10), bool))], (640, 480), margin=0.6)
    assert car_box(np.zeros((10, 10), bool)) is None


def test_the_photos_own_floor_shadow_is_carried_over(angles):
    """`real`: the darkening of the photo's floor near the car goes into the frame where that
    floor lands; the floor of a photo with a darker patch painted beside the car shows it."""
    rgb, mask = angles[2]
    box = car_box(mask)
    patched = rgb.copy()
    py, px = box.y1 - 4, box.x1 + 6  # the floor just right of the car's lowest row
    patch = (slice(py - 8, py + 3), slice(px, px + 24))
    patched[patch] = (patched[patch] * 0.45).astype(np.uint8)
    (plan,) = plan_frames([box], (1024, 768))
    grey = Backdrop((200, 200, 200))
    plain, _ = render_angle(rgb, mask, box, plan, grey, ShadowStyle("real"))
    dark, alpha = render_angle(patched, mask, box, plan, grey, ShadowStyle("real"))
    fy = round(plan.ground_y + (py - 2 - (box.y1 - 1)) * plan.scale)
    fx = round(plan.cx + (px + 12 - (box.x0 + box.x1) / 2) * plan.scale)
    assert alpha[fy, fx] == 0  # floor, not car
    assert dark[fy, fx].mean() < plain[fy, fx].mean() - 40  # the painted patch, carried over
    assert dark[fy, fx].mean() < 200 - 40
    car = alpha > 0
    rows = _rows(alpha)
    assert (dark[: rows[0] - 5][~car[: rows[0] - 5]] == 200).all()  # above the car: backdrop


def test_names_from_a_template_per_car_and_angle(tmp_path):
    from engine.listing.naming import listing_names

    turntable = [tmp_path / "shoot" / f"abc_{n:02d}.jpg" for n in (3, 1, 2)]
    phone = [tmp_path / "red-golf" / name for name in ("IMG_0412.jpg", "IMG_0413.jpg", "back.jpg")]
    names = listing_names(
        "{stock}-{angle:02d}", turntable + phone, {"abc": "VIN9", "red-golf": "S7"}
    )
    assert [names[p] for p in turntable] == ["VIN9-03", "VIN9-01", "VIN9-02"]
    # no angle in the name: the folder is the car, the angle its place in name order
    assert {names[p] for p in phone} == {"S7-01", "S7-02", "S7-03"}
