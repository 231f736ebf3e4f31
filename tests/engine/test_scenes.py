"""Scene composition: the label is the pasted car alone (other cars, shadows, reflections and
turntables are background), no halo of the Carvana backdrop at the pasted edge, any aspect ratio,
and training items that hold the main car."""

from pathlib import Path

import numpy as np
import pytest

from engine.io import read_mask, read_rgb
from engine.training.pairs import Pair
from engine.training.scenes.compose import ASPECTS, Composer, canvas_size
from engine.training.scenes.cutout import CarCutout, CutoutCache, decontaminate, make_cutout
from engine.training.scenes.dataset import ComposedDataset, Mix
from engine.training.scenes.paste import Extras, Placement, paste_car, scaled
from engine.training.scenes.sources import Scene
from engine.training.scenes.studio import KINDS, random_look, render_studio

FULL = Path(__file__).parents[1] / "data" / "fullsize"


@pytest.fixture(scope="module")
def cut() -> CarCutout:
    """A real Carvana car (full-size photo and hand-made mask) cut out at half size."""
    return make_cutout(
        read_rgb(FULL / "1a17a1bd648b_09.jpg"), read_mask(FULL / "1a17a1bd648b_09_mask.gif")
    )


@pytest.fixture(scope="module")
def dark_cut() -> CarCutout:
    return make_cutout(
        read_rgb(FULL / "0ed6904e1004_05.jpg"), read_mask(FULL / "0ed6904e1004_05_mask.gif")
    )


def _place(cut, canvas_hw, width=400.0):
    return Placement(width, canvas_hw[1] / 2, canvas_hw[0] * 0.85)


def test_decontaminate_takes_the_backdrop_out_of_edge_colours():
    # a red car on a white backdrop: its anti-aliased edge pixels are pink
    alpha = np.zeros((60, 60), np.float32)
    alpha[10:50, 10:50] = 1.0
    alpha[10:50, 50] = 0.5
    red, white = np.array([0.8, 0.05, 0.05]), np.ones(3)
    rgb = (alpha[..., None] * red + (1 - alpha[..., None]) * white).astype(np.float32)
    clean = decontaminate(rgb, alpha)
    np.testing.assert_allclose(clean[30, 50], red, atol=0.02)  # the edge is red, not pink
    np.testing.assert_allclose(clean[30, 30], red, atol=1e-6)  # the interior is untouched


def test_no_halo_the_colour_just_outside_the_edge_is_the_backdrops(dark_cut):
    h, w = 448, 672
    backdrop = np.zeros((h, w, 3), np.float32)  # dark blue wall: any spill would show
    backdrop[..., 2] = 0.1
    out, label = paste_car(backdrop, dark_cut, _place(dark_cut, (h, w)))
    outside = label == 0
    assert np.array_equal(out[outside], backdrop[outside])  # not one pixel touched outside
    ring = _ring_outside(label > 0, 2)
    assert ring.sum() > 500 and np.array_equal(out[ring], backdrop[ring])


def _ring_outside(car: np.ndarray, px: int) -> np.ndarray:
    import cv2

    grown = cv2.dilate(car.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=px)
    return grown.astype(bool) & ~car


def test_no_old_backdrop_colour_left_in_the_edge_band():
    # a real car whose backdrop is made magenta at full size: shrunk, its edge pixels mix car and
    # magenta as they mix car and Carvana's grey; the cut-out's edge must carry no magenta
    rgb = read_rgb(FULL / "1a17a1bd648b_09.jpg").copy()
    mask = read_mask(FULL / "1a17a1bd648b_09_mask.gif")
    rgb[~mask] = (255, 0, 255)
    c = make_cutout(rgb, mask, scale=0.25)

    def magenta(x):
        return (x[..., 0] + x[..., 2]) / 2 - x[..., 1]

    band = (c.alpha > 0.05) & (c.alpha < 0.95)
    raw = rgb.astype(np.float32) / 255  # what a naive cut-out would carry at the edge
    import cv2

    ys, xs = np.nonzero(mask)
    y0, x0 = max(0, ys.min() - 8), max(0, xs.min() - 8)
    y1, x1 = min(mask.shape[0], ys.max() + 9), min(mask.shape[1], xs.max() + 9)
    naive = cv2.resize(raw[y0:y1, x0:x1], c.size[::-1], interpolation=cv2.INTER_AREA)
    solid = c.alpha >= 1
    assert band.sum() > 300
    assert magenta(naive[band]).mean() > magenta(c.rgb[solid]).mean() + 0.15  # the halo
    assert magenta(c.rgb[band]).mean() < magenta(c.rgb[solid]).mean() + 0.03  # gone


def test_label_is_the_pasted_car_other_cars_and_shadows_are_background(cut, dark_cut):
    h, w = 448, 672
    rng = np.random.default_rng(0)
    backdrop = render_studio(random_look(rng, "white"), h, w, rng)
    # a car already in the scene (further back, on the left)
    scene, first = paste_car(backdrop, dark_cut, Placement(250, 160, 300))
    place = Placement(380, 430, 400)
    plain, label = paste_car(scene, cut, place)
    extras = Extras(
        contact=0.7, drop=0.5, drop_dx=0.3, reflection=0.4, turntable=np.array([0.3, 0.3, 0.3])
    )
    rich, label_rich = paste_car(scene, cut, place, extras)
    np.testing.assert_array_equal(label, label_rich)  # shadows, reflection, disc: no label
    _, alpha, _ = scaled(cut, place)
    assert abs(label.sum() - alpha.sum()) < 1.0  # the label is exactly the pasted car
    hidden_first = (first > 0.5) & (label == 0)
    assert hidden_first.sum() > 1000  # the other car is still visible ...
    assert np.all(label[hidden_first] == 0)  # ... and it is background
    darker = (rich.mean(-1) < plain.mean(-1) - 0.05) & (label == 0)
    assert darker.sum() > 2000  # shadows, reflection and disc changed the floor, as background
    assert darker[int(place.ground_y) :].sum() > darker[: int(place.ground_y) - 100].sum()


@pytest.mark.parametrize("kind", KINDS)
def test_every_studio_look_renders(kind):
    rng = np.random.default_rng(3)
    look = random_look(rng, kind)
    img = render_studio(look, 300, 450, rng)
    assert img.shape == (300, 450, 3) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1 and img.std() > 0


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_composites_of_every_aspect_ratio_hold_the_main_car(cut, aspect, tmp_path):
    from PIL import Image

    scene_img = tmp_path / "street.jpg"  # a street of our own: a real photo as the scene
    Image.fromarray(read_rgb(FULL / "34b0c08544a5_01.jpg")).save(scene_img)
    composer = Composer(lambda rng: cut, [Scene(scene_img, None, "x")])
    size = canvas_size(ASPECTS[aspect], (448, 672))
    assert abs(size[1] / size[0] - ASPECTS[aspect]) < 0.01
    assert abs(size[0] * size[1] - 448 * 672) < 0.01 * 448 * 672
    for k in range(3):
        rng = np.random.default_rng([k, 7])
        c = composer.studio(rng, size=size) if k < 2 else composer.street(rng, size=size)
        assert c.rgb.shape == (*size, 3) and c.rgb.dtype == np.uint8
        assert c.label.shape == size and c.label.dtype == np.uint8
        assert c.box is not None and (c.label > 127).sum() > 0.01 * size[0] * size[1]


def test_car_sizes_cover_a_quarter_to_almost_the_whole_width(cut):
    composer = Composer(lambda rng: cut)
    widths = []
    for k in range(40):
        c = composer.studio(np.random.default_rng([k, 1]), size=(448, 672))
        _, x0, _, x1 = c.box
        widths.append((x1 - x0) / 672)
    assert min(widths) < 0.35 and max(widths) > 0.8


def test_small_cars_when_asked_and_the_same_draws_when_not(cut):
    """`small_cars` puts the main car at 6-25 % of the width (a lot seen from afar); at 0 (the
    default) every composite is drawn exactly as before, so the benchmark's set is unchanged."""
    small = Composer(lambda rng: cut, small_cars=1.0)
    for k in range(12):
        c = small.studio(np.random.default_rng([k, 3]), size=(448, 672))
        _, x0, _, x1 = c.box
        assert (x1 - x0) / 672 <= 0.27, k  # (rotation adds a little)
        assert (c.label > 127).sum() > 0  # the label is still the pasted car
    plain, off = Composer(lambda rng: cut), Composer(lambda rng: cut, small_cars=0.0)
    a = plain.studio(np.random.default_rng([5, 1]), size=(448, 672))
    b = off.studio(np.random.default_rng([5, 1]), size=(448, 672))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.label, b.label)


def test_dark_cars_on_black_when_asked_and_the_same_draws_when_not(cut):
    """`dark` draws the look a dark car is lost in: a black backdrop and a car darker than the
    cut-out it came from, labelled all the same; at 0 every composite is drawn as before."""
    dark = Composer(lambda rng: cut, dark=1.0)
    car = (cut.rgb.mean(axis=2) * cut.alpha).sum() / cut.alpha.sum()
    for k in range(6):
        c = dark.studio(np.random.default_rng([k, 4]), size=(448, 672))
        assert c.kind == "studio:black"
        inside = c.label > 127
        assert inside.sum() > 0
        assert c.rgb[inside].mean() / 255 < car, k  # darker than the car as photographed
    plain, off = Composer(lambda rng: cut), Composer(lambda rng: cut, dark=0.0)
    a = plain.studio(np.random.default_rng([5, 1]), size=(448, 672))
    b = off.studio(np.random.default_rng([5, 1]), size=(448, 672))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.label, b.label)


def test_training_items_are_crops_holding_the_main_car(tmp_path):
    train = Path(__file__).parents[1] / "data" / "carvana" / "train"
    masks = train.parent / "train_masks"
    cars = [Pair(p, masks / f"{p.stem}_mask.gif", p.stem[:12]) for p in sorted(train.glob("*.jpg"))]
    ds = ComposedDataset(
        cars[:3],
        (224, 336),
        (128, 192),
        mix=Mix(studio=1, street=0, carvana=0, photo=0),
        cache_dir=tmp_path,
        seed=1,
    )
    for i in range(6):
        rgb, label, kind = ds.item(i)
        assert kind == "studio" and rgb.shape == (128, 192, 3) and label.shape == (128, 192)
        assert (label > 127).any()  # the main car is in the crop
    image, target = ds[0]
    assert tuple(image.shape) == (3, 128, 192) and tuple(target.shape) == (1, 128, 192)
    assert len(list((tmp_path / "cutouts").glob("*.npy"))) >= 1  # cut-outs are cached
    again = CutoutCache(tmp_path / "cutouts").get(cars[0])
    assert again.alpha.max() > 0.99


def test_dealer_clutter_is_background_and_off_by_default(cut, dark_cut):
    """Neighbours parked against the main car, posts in front of it, captions and stickers are
    background: the label keeps only the main car, less what stands in front of it. At
    `clutter=0` (the default) composites are drawn exactly as before."""
    from engine.training.scenes import clutter

    h, w = 448, 672
    rng = np.random.default_rng(4)
    backdrop = render_studio(random_look(rng, "showroom"), h, w, rng)
    place = Placement(300, 336, 400)
    beside = clutter.neighbours(backdrop, place, lambda r: dark_cut, np.random.default_rng(1))
    changed = np.abs(beside - backdrop).max(-1) > 0.05
    assert changed.sum() > 5000  # a parked car of about the main car's size
    canvas, label = paste_car(beside, cut, place)
    _, alone = paste_car(backdrop, cut, place)
    np.testing.assert_array_equal(label, alone)  # the neighbour adds nothing to the label
    near = changed & (label < 0.5)
    assert near.sum() > 1000  # ... and stays visible beside the car, as background

    covered, cut_label = clutter.poles(canvas, label, np.random.default_rng(2))
    hidden = (np.abs(covered - canvas).max(-1) > 0.1) & (label > 0.5)
    assert hidden.sum() > 100  # a post in front of the car: not car (its soft rim: partly)
    assert (cut_label[hidden] < 0.5).mean() > 0.9
    for seed in range(6):
        marked, mark_label = clutter.overlays(canvas, label, np.random.default_rng(seed))
        assert mark_label.max() <= label.max() and np.all(mark_label <= label + 1e-6)
        assert np.abs(marked - canvas).max() > 0.05  # something was drawn

    plain, off = Composer(lambda r: cut), Composer(lambda r: cut, clutter=0.0)
    a = plain.studio(np.random.default_rng([5, 2]), size=(h, w))
    b = off.studio(np.random.default_rng([5, 2]), size=(h, w))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.label, b.label)
    busy = Composer(lambda r: cut, clutter=1.0)
    c = busy.studio(np.random.default_rng([5, 2]), size=(h, w))
    assert not np.array_equal(a.rgb, c.rgb) and c.box is not None
