"""Cutouts a dealer can publish without touch-up (issue 29): the main car alone, with its
mirrors and its holes filled (`engine.matte.select`, on real Carvana masks and, through the
real CLI and the shipped model, on a real photo of two cars); soft edges whose threshold is the
mask, no halo, and nothing of the backdrop under transparent pixels (`engine.matte.alpha`)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from cutout_checks import edge_excess
from PIL import Image

from engine.batch.export import ExportOptions, export_photo
from engine.cli import main
from engine.inference.predict import Predictor
from engine.io import read_mask, read_rgb
from engine.matte.select import select_main_car
from engine.modelfiles.library import default_model_paths

DATA = Path(__file__).parents[1] / "data"
FULL = DATA / "fullsize"


@pytest.fixture(scope="module")
def car() -> np.ndarray:
    """A real Carvana car's hand-made mask, 1918×1280: one piece, no holes."""
    return read_mask(FULL / "1a17a1bd648b_09_mask.gif")


def _disc(shape, centre, radius) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, thickness=-1)
    return out.astype(bool)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return ys.min(), ys.max(), xs.min(), xs.max()


def test_a_blob_apart_from_the_car_is_dropped_and_the_car_kept_pixel_for_pixel(car):
    top, _bottom, _left, right = _box(car)
    blob = _disc(car.shape, (right + 150, top + 40), 60)  # a poster, another car's roof
    assert not (blob & car).any()
    selection = select_main_car(car | blob)
    assert np.array_equal(selection.mask, car)
    assert selection.dropped == 1 and selection.dropped_px == blob.sum()


def test_a_wing_mirror_or_antenna_split_off_by_a_thin_gap_is_kept_a_speck_further_is_not(car):
    top, bottom, left, right = _box(car)
    row = top + (bottom - top) // 3
    edge = np.flatnonzero(car[row])[0]  # the car's outline on the left at that height
    mirror = np.zeros(car.shape, np.uint8)
    cv2.ellipse(mirror, (edge - 4 - 18, row), (18, 10), 0, 0, 360, 1, -1)  # a 3 px gap
    mirror = mirror.astype(bool) & ~cv2.dilate(car.astype(np.uint8), np.ones((7, 7))).astype(bool)
    roof = np.flatnonzero(car[:, (left + right) // 2])[0]
    antenna = np.zeros(car.shape, bool)
    antenna[roof - 60 : roof - 2, (left + right) // 2 : (left + right) // 2 + 2] = True
    speck = _disc(car.shape, (edge - 150, row), 12)  # as small, but well apart
    selection = select_main_car(car | mirror | antenna | speck)
    assert mirror.sum() > 400 and antenna.sum() > 100
    assert np.array_equal(selection.mask, car | mirror | antenna)


def test_a_car_cut_by_the_frame_is_kept_over_a_smaller_piece_in_the_middle(car):
    _top, bottom, left, right = _box(car)
    cut = car[: bottom - 100, left + (right - left) // 2 :]  # cut at the left and the bottom
    frame = np.zeros((cut.shape[0], cut.shape[1] + 900), bool)
    frame[:, 900:] = cut
    h, w = frame.shape
    middle = _disc(frame.shape, (w // 2 - 300, h // 2), 150)  # the frame's centre, 1/6 its area
    assert not (middle & frame).any() and middle.sum() > 0.1 * cut.sum()
    selection = select_main_car(frame | middle)
    assert np.array_equal(selection.mask, frame)  # nothing filled against the frame either


def test_of_two_cars_side_by_side_the_larger_then_the_more_central_is_kept(car):
    other = read_mask(FULL / "0ed6904e1004_05_mask.gif")
    top, bottom, left, right = _box(car)
    a = car[top : bottom + 1, left : right + 1]
    top, bottom, left, right = _box(other)
    b = other[top : bottom + 1, left : right + 1]
    b = cv2.resize(b.astype(np.uint8), (a.shape[1], a.shape[0])).astype(bool)  # same size
    small = cv2.resize(b.astype(np.uint8), None, fx=0.7, fy=0.7).astype(bool)
    h, w = a.shape
    # side by side: on the same floor, so their wheels (lowest rows) on one line
    frame = np.zeros((h + 40, 2 * w + 60), bool)
    frame[20 : 20 + h, 20 : 20 + w] = a  # equally far from the centre, on either side
    frame[20 + h - small.shape[0] : 20 + h, w + 40 : w + 40 + small.shape[1]] = small
    kept = select_main_car(frame).mask
    assert kept[:, : w + 30].sum() == a.sum() and not kept[:, w + 30 :].any()  # the larger
    big = cv2.resize(b.astype(np.uint8), None, fx=1.2, fy=1.2).astype(bool)
    assert big.sum() > 1.1 * a.sum()  # larger, but at the side: a plain largest-piece filter
    frame = np.zeros((big.shape[0] + 40, 2 * w + 70 + big.shape[1]), bool)  # would keep it
    floor = 20 + big.shape[0]
    frame[floor - h : floor, w : 2 * w] = a  # in the middle
    frame[20:floor, 2 * w + 50 : 2 * w + 50 + big.shape[1]] = big
    kept = select_main_car(frame).mask
    assert kept[:, w : 2 * w].sum() == a.sum() and not kept[:, 2 * w + 10 :].any()


def test_of_a_car_cut_by_the_frame_and_one_further_back_the_nearer_is_kept(car):
    """The composite that scored 0 in the black studio look: the labelled car stands in front,
    cut by the frame's right edge, and a whole car of about its size stands further back,
    higher up and more central. The car the photo is of is the one on the floor in front."""
    top, bottom, left, right = _box(car)
    a = car[top : bottom + 1, left : right + 1]
    h, w = a.shape
    frame = np.zeros((2 * h, 3 * w), bool)
    back = cv2.resize(a.astype(np.uint8), None, fx=0.8, fy=0.8).astype(bool)  # further back
    bh, bw = back.shape
    frame[
        h // 2 - bh // 2 : h // 2 - bh // 2 + bh, 3 * w // 2 - bw // 2 : 3 * w // 2 - bw // 2 + bw
    ] = back
    front = a[:, : w * 2 // 3]  # cut by the frame: a third of it outside
    frame[h : 2 * h, 3 * w - front.shape[1] :] = front  # in front, on the floor
    kept = select_main_car(frame).mask
    assert kept[h:].sum() == front.sum() and not kept[:h].any()


def test_small_holes_the_car_encloses_are_filled_a_large_opening_is_not(car):
    top, bottom, left, right = _box(car)
    cy, cx = (top + bottom) // 2, (left + right) // 2
    pinhole = _disc(car.shape, (cx - 200, cy), 12)  # a speck of glass the model missed
    window = np.zeros(car.shape, bool)
    window[cy - 15 : cy + 15, cx + 100 : cx + 140] = True  # a quarter-window: 0.3 % of the car
    gap = _disc(car.shape, (cx, cy + 60), 70)  # a large opening: 4 % of the car
    assert car[pinhole].all() and car[window].all() and car[gap].all()
    selection = select_main_car(car & ~pinhole & ~window & ~gap)
    assert np.array_equal(selection.mask, car & ~gap)
    assert selection.filled_px == pinhole.sum() + window.sum()


# --------------------------------------------------------------------------- through the CLI


def _two_cars() -> np.ndarray:
    """Two real Carvana photos side by side, the right one shrunk: a lot with two cars."""
    a = read_rgb(DATA / "carvana" / "train" / "00087a6bd4dc_01.jpg")
    b = read_rgb(DATA / "carvana" / "train" / "0495dcf27283_02.jpg")
    small = cv2.resize(b, (336, 224), interpolation=cv2.INTER_AREA)
    return np.hstack([a, cv2.copyMakeBorder(small, 48, 48, 72, 72, cv2.BORDER_REPLICATE)])


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """`carmask predict` with the shipped default on the two cars and a full-size photo."""
    folder = tmp_path_factory.mktemp("matte")
    Image.fromarray(_two_cars()).save(folder / "lot.jpg", quality=95)
    Image.open(FULL / "1a17a1bd648b_09.jpg").save(folder / "studio.jpg", quality=95)
    out = folder / "out"
    argv = ["predict", str(folder / "lot.jpg"), str(folder / "studio.jpg"), "--out", str(out)]
    assert main([*argv, "--format", "png", "--report", str(folder / "r.jsonl"), "-q"]) == 0
    return folder


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_a_photo_of_two_cars_gives_the_larger_car_alone_unless_all_are_kept(batch):
    alpha = _png(batch / "out" / "lot.png")[..., 3]
    assert (alpha[:, :480] > 127).sum() > 20000 and not alpha[:, 480:].any()
    argv = ["predict", str(batch / "lot.jpg"), "--out", str(batch / "all"), "-q"]
    assert main([*argv, "--keep-all-objects"]) == 0
    everything = _png(batch / "all" / "lot.png")[..., 3]
    assert (everything[:, 480:] > 127).sum() > 5000  # the small car too
    rows = [json.loads(line) for line in (batch / "r.jsonl").read_text().splitlines()]
    lot = next(r for r in rows if r["file"].endswith("lot.jpg"))
    assert lot["main_object"]["dropped"] >= 1 and lot["main_object"]["dropped_px"] > 5000


@pytest.mark.parametrize("name", ["lot", "studio"])
def test_the_cutout_edge_is_soft_all_along_the_outline(batch, name):
    alpha = _png(batch / "out" / f"{name}.png")[..., 3]
    car = (alpha > 127).astype(np.uint8)
    outline = cv2.morphologyEx(car, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    between = (alpha[outline] > 0) & (alpha[outline] < 255)
    assert outline.sum() > 1000 and between.mean() > 0.9


@pytest.mark.parametrize("name", ["lot", "studio"])
def test_nothing_of_the_backdrop_is_left_under_transparent_pixels(batch, name):
    rgba = _png(batch / "out" / f"{name}.png")
    assert (rgba[..., 3] == 0).mean() > 0.3
    assert not rgba[rgba[..., 3] == 0, :3].any()


def test_no_halo_of_the_studio_backdrop_in_a_png_cutout(batch):
    """On a black page, an edge pixel is its coverage times the car's own colour nearby:
    nothing of Carvana's light grey studio (the listing frames' check, `cutout_checks`)."""
    rgba = _png(batch / "out" / "studio.png")
    alpha = rgba[..., 3]
    on_black = (rgba[..., :3].astype(np.float32) * (alpha[..., None] / 255)).round()
    rows = np.flatnonzero((alpha > 127).any(axis=1))
    upper = np.zeros(alpha.shape, bool)
    upper[: rows[0] + (rows[-1] - rows[0]) // 2] = True  # above the floor and its shadow
    excess = edge_excess(on_black.astype(np.uint8), alpha, upper)
    assert excess.size > 1000
    assert np.median(excess) <= 3 and np.percentile(excess, 90) <= 12


def test_the_thresholded_alpha_is_the_mask_so_dice_does_not_change():
    predictor = Predictor(default_model_paths(), device="cpu")
    rgb = read_rgb(FULL / "1a17a1bd648b_09.jpg")
    matte = predictor.predict_matte(rgb)
    assert np.array_equal(matte.mask, predictor.predict(rgb))
    assert np.array_equal(matte.alpha > 127, matte.mask)
    soft = (matte.alpha > 0) & (matte.alpha < 255)
    assert soft.sum() > 2000


def test_keeping_every_object_is_a_setting_that_changes_the_rerun_key(trained_model):
    """A hot folder or a cluster run redone with --keep-all-objects does its photos again."""
    from engine.batch.manifest import mask_settings
    from engine.cli.common import predict_config
    from engine.cli.parser import build_parser

    parse = build_parser().parse_args
    plain = parse(["predict", "a.jpg", "--out", "o", "--model", str(trained_model)])
    every = parse(
        ["predict", "a.jpg", "--out", "o", "--model", str(trained_model), "--keep-all-objects"]
    )
    assert not plain.keep_all_objects and every.keep_all_objects
    assert mask_settings(predict_config(plain)) != mask_settings(predict_config(every))


def test_a_jpeg_on_a_colour_has_the_soft_clean_edge_too(tmp_path):
    """--format jpg is the cutout on the colour: no light rim of the studio on black."""
    rgb = read_rgb(FULL / "1a17a1bd648b_09.jpg")
    mask = read_mask(FULL / "1a17a1bd648b_09_mask.gif")
    options = ExportOptions(formats=("png", "jpg"), background=(0, 0, 0))
    export_photo(rgb, mask, FULL / "1a17a1bd648b_09.jpg", tmp_path, options)
    alpha = _png(tmp_path / "1a17a1bd648b_09.png")[..., 3]
    on_black = np.asarray(Image.open(tmp_path / "1a17a1bd648b_09.jpg"))
    rows = np.flatnonzero(mask.any(axis=1))
    upper = np.zeros(mask.shape, bool)
    upper[: rows[0] + (rows[-1] - rows[0]) // 2] = True
    excess = edge_excess(on_black, alpha, upper)
    assert excess.size > 1000
    assert np.median(excess) <= 3 and np.percentile(excess, 90) <= 12
