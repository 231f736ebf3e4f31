"""Training data: finding photo/mask pairs in every layout, problems by file, car ids, the split
by car, and the dataset (tensors, aligned augmentation, resize cache).

Every layout is built at test time from the real Carvana photos and masks in tests/data.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engine.training.data
from engine.batch.export import cutout_rgba
from engine.io import read_mask, read_rgb
from engine.training.data import Augment, PairDataset, ResizedCache, resize_pair
from engine.training.pairs import Pair, car_id, find_pairs, load_pair, split_by_car

CARVANA = Path(__file__).resolve().parents[1] / "data" / "carvana"
TRAIN_STEMS = sorted(p.stem for p in (CARVANA / "train").glob("*.jpg"))
VAL_STEMS = sorted(p.stem for p in (CARVANA / "val").glob("*.jpg"))
CARS = ["00087a6bd4dc", "0495dcf27283", "0ed6904e1004", "1a17a1bd648b"]
A, B = "00087a6bd4dc_01", "0495dcf27283_02"  # one photo of each training car
SIZE = (64, 96)  # (h, w) the dataset works at in these tests
NO_JITTER = Augment(brightness=0.0, contrast=0.0, saturation=0.0, hue_degrees=0.0)


@functools.cache
def _mask(stem: str) -> np.ndarray:
    """The real Carvana mask of a training photo (H×W bool); do not modify."""
    return read_mask(CARVANA / "train_masks" / f"{stem}_mask.gif")


def _photo(stem: str, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CARVANA / "train" / f"{stem}.jpg", dst)
    return dst


def _mask_png(mask: np.ndarray, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(dst)
    return dst


def _cutout_png(stem: str, dst: Path) -> Path:
    """A transparent PNG cutout of the photo: alpha = its mask (past retouching work)."""
    rgba = cutout_rgba(read_rgb(CARVANA / "train" / f"{stem}.jpg"), _mask(stem))
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(dst)
    return dst


def _by_image(report) -> dict[Path, Pair]:
    return {p.image: p for p in report.pairs}


def _problems(report) -> dict[str, str]:
    return {path.name: reason for path, reason in report.problems}


# --------------------------------------------------------------------------- layouts


def test_kaggle_layout_from_the_parent_folder():
    report = find_pairs(CARVANA)
    assert report.problems == []
    assert len(report.pairs) == len(TRAIN_STEMS) + len(VAL_STEMS) == 15
    assert report.cars == CARS
    for pair in report.pairs:
        split = pair.image.parent.name
        assert split in ("train", "val")
        assert pair.mask == CARVANA / f"{split}_masks" / f"{pair.image.stem}_mask.gif"
        assert pair.label == "mask"
        assert pair.car == pair.image.stem.rsplit("_", 1)[0]
    assert "15 pairs from 4 cars, 0 problems" in report.summary()


def test_kaggle_layout_from_the_train_folder_itself():
    report = find_pairs(CARVANA / "train")
    assert report.problems == []
    assert sorted(p.image.stem for p in report.pairs) == TRAIN_STEMS
    assert all(p.mask.parent == CARVANA / "train_masks" for p in report.pairs)
    assert report.cars == CARS[:2]
    rgb, mask = load_pair(report.pairs[0])
    assert rgb.shape == (320, 480, 3) and rgb.dtype == np.uint8
    assert mask.shape == (320, 480) and mask.dtype == bool


@pytest.mark.parametrize("layout", ["images-masks", "kaggle-png-masks", "mask-beside-photo"])
def test_mask_file_layouts(tmp_path, layout):
    root = tmp_path / "data"
    expected = {}
    for stem in (A, B):
        if layout == "images-masks":
            photo = _photo(stem, root / "images" / f"{stem}.jpg")
            mask = _mask_png(_mask(stem), root / "masks" / f"{stem}.png")
        elif layout == "kaggle-png-masks":
            photo = _photo(stem, root / "train" / f"{stem}.jpg")
            mask = _mask_png(_mask(stem), root / "train_masks" / f"{stem}.png")
        else:
            photo = _photo(stem, root / f"{stem}.jpg")
            mask = _mask_png(_mask(stem), root / f"{stem}_mask.png")
        expected[photo.resolve()] = mask.resolve()

    report = find_pairs(root)
    assert report.problems == []
    assert {p.image: p.mask for p in report.pairs} == expected
    assert all(p.label == "mask" for p in report.pairs)
    assert report.cars == CARS[:2]
    for pair in report.pairs:
        rgb, mask = load_pair(pair)
        assert np.array_equal(mask, _mask(pair.image.stem))
        assert rgb.shape[:2] == mask.shape


def test_transparent_cutout_beside_its_photo_is_the_label(tmp_path):
    photo = _photo(A, tmp_path / f"{A}.jpg")
    cutout = _cutout_png(A, tmp_path / f"{A}.png")

    report = find_pairs(tmp_path)
    assert report.problems == []  # the cutout is neither a photo without a mask nor an orphan
    (pair,) = report.pairs
    assert (pair.image, pair.mask, pair.label) == (photo.resolve(), cutout.resolve(), "cutout")
    assert pair.car == "00087a6bd4dc"
    rgb, mask = load_pair(pair)
    assert np.array_equal(mask, _mask(A))
    assert np.array_equal(rgb, read_rgb(photo))


def test_a_png_photo_without_alpha_is_not_taken_for_a_cutout(tmp_path):
    _photo(A, tmp_path / f"{A}.jpg")
    Image.open(CARVANA / "train" / f"{A}.jpg").save(tmp_path / f"{A}.png")  # opaque RGB PNG
    report = find_pairs(tmp_path)
    assert report.pairs == []
    assert _problems(report) == {
        f"{A}.jpg": "no mask found for this photo",
        f"{A}.png": "no mask found for this photo",
    }


def test_mixed_layouts_in_one_tree(tmp_path):
    root = tmp_path / "mixed"
    stems = TRAIN_STEMS
    # Kaggle
    _photo(stems[0], root / "kaggle" / "train" / f"{stems[0]}.jpg")
    (root / "kaggle" / "train_masks").mkdir()
    gif = f"{stems[0]}_mask.gif"
    shutil.copyfile(CARVANA / "train_masks" / gif, root / "kaggle" / "train_masks" / gif)
    # images/ + masks/
    _photo(stems[1], root / "studio" / "images" / f"{stems[1]}.jpg")
    _mask_png(_mask(stems[1]), root / "studio" / "masks" / f"{stems[1]}.png")
    # X.jpg + X_mask.png
    _photo(stems[5], root / "loose" / f"{stems[5]}.jpg")
    _mask_png(_mask(stems[5]), root / "loose" / f"{stems[5]}_mask.png")
    # X.jpg + transparent X.png
    _photo(stems[6], root / "retouched" / f"{stems[6]}.jpg")
    _cutout_png(stems[6], root / "retouched" / f"{stems[6]}.png")
    # and one photo directly in the root
    _photo(stems[2], root / f"{stems[2]}.jpg")
    _mask_png(_mask(stems[2]), root / f"{stems[2]}_mask.png")

    report = find_pairs(root)
    assert report.problems == []
    pairs = {p.image.stem: p for p in report.pairs}
    assert sorted(pairs) == sorted(stems[i] for i in (0, 1, 2, 5, 6))
    assert pairs[stems[0]].mask.suffix == ".gif"
    assert pairs[stems[1]].mask.parent.name == "masks"
    assert pairs[stems[5]].mask.name == f"{stems[5]}_mask.png"
    assert pairs[stems[6]].label == "cutout"
    assert {p.label for s, p in pairs.items() if s != stems[6]} == {"mask"}
    assert report.cars == CARS[:2]
    for stem, pair in pairs.items():
        assert np.array_equal(load_pair(pair)[1], _mask(stem)), stem


# --------------------------------------------------------------------------- problems


def test_problems_are_reported_by_file_and_good_pairs_still_come_back(tmp_path):
    root = tmp_path / "shoot"
    for stem in (A, B):  # the good pairs
        _photo(stem, root / f"{stem}.jpg")
        _mask_png(_mask(stem), root / f"{stem}_mask.png")
    mask = _mask(A)
    _photo(A, root / "nomask.jpg")
    _mask_png(mask, root / "orphan_mask.png")
    _photo(A, root / "small.jpg")
    Image.fromarray(mask.astype(np.uint8) * 255).resize((240, 160)).save(root / "small_mask.png")
    _photo(A, root / "empty.jpg")
    _mask_png(np.zeros_like(mask), root / "empty_mask.png")
    _photo(A, root / "full.jpg")
    _mask_png(np.ones_like(mask), root / "full_mask.png")
    _photo(A, root / "text.jpg")
    (root / "text_mask.png").write_text("this is not an image\n")
    data = (CARVANA / "train" / f"{A}.jpg").read_bytes()
    (root / "trunc.jpg").write_bytes(data[: len(data) // 2])  # header intact, data cut off
    _mask_png(mask, root / "trunc_mask.png")

    report = find_pairs(root)

    assert sorted(p.image.name for p in report.pairs) == [f"{A}.jpg", f"{B}.jpg"]
    problems = _problems(report)
    assert set(problems) == {
        "nomask.jpg",
        "orphan_mask.png",
        "small_mask.png",
        "empty_mask.png",
        "full_mask.png",
        "text_mask.png",
        "trunc.jpg",
    }
    assert problems["nomask.jpg"] == "no mask found for this photo"
    assert problems["orphan_mask.png"] == "mask without a photo"
    assert problems["small_mask.png"] == "mask is 240×160 but the photo is 480×320"
    assert problems["empty_mask.png"] == "mask is empty (no car marked)"
    assert problems["full_mask.png"] == "mask covers the whole photo (no background marked)"
    assert problems["text_mask.png"].startswith("unreadable mask (")
    assert problems["trunc.jpg"].startswith("unreadable photo (")
    # each problem names a real file of the tree, with its full path
    assert all(path.parent == root.resolve() for path, _ in report.problems)
    summary = report.summary()
    assert summary.startswith("2 pairs from 2 cars, 7 problems")
    assert all(name in summary for name in problems)


def test_missing_folder_is_a_problem_not_a_crash(tmp_path):
    report = find_pairs(tmp_path / "nowhere")
    assert report.pairs == []
    assert report.problems == [(tmp_path / "nowhere", "folder not found")]


def test_exif_rotated_photo_is_checked_in_its_displayed_orientation(tmp_path):
    """A phone photo stored sideways with an EXIF orientation: the mask drawn on the photo as
    displayed is right (training reads the photo with EXIF applied); one in the stored
    orientation would be misaligned and is reported."""
    img = Image.open(CARVANA / "train" / f"{A}.jpg")
    exif = img.getexif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    shown = Image.fromarray(_mask(A).astype(np.uint8) * 255).transpose(Image.Transpose.ROTATE_270)
    for name, mask in (("upright", shown), ("sideways", Image.fromarray(_mask(A)))):
        img.save(tmp_path / f"{name}.jpg", exif=exif, quality=95)
        mask.save(tmp_path / f"{name}_mask.png")

    report = find_pairs(tmp_path)
    (pair,) = report.pairs
    assert pair.image.name == "upright.jpg"
    rgb, mask = load_pair(pair)
    assert rgb.shape == (480, 320, 3) and mask.shape == (480, 320)
    assert _problems(report) == {"sideways_mask.png": "mask is 480×320 but the photo is 320×480"}


# --------------------------------------------------------------------------- car ids


def test_car_id_from_carvana_name_else_folder_else_file(tmp_path):
    root = tmp_path
    assert car_id(root / "anything" / "0495dcf27283_06.jpg", root) == "0495dcf27283"
    assert car_id(root / "0495dcf27283_06.jpg", root) == "0495dcf27283"
    assert car_id(root / "ford_focus" / "front.jpg", root) == "ford_focus"
    assert car_id(root / "2024" / "ford_focus" / "front.jpg", root) == "2024/ford_focus"
    assert car_id(root / "ford_focus" / "car_1.jpg", root) == "ford_focus"  # _1 is no angle
    assert car_id(root / "images" / "front.jpg", root) == "front"  # a layout folder, not a car
    assert car_id(root / "train" / "front.jpg", root) == "front"
    assert car_id(root / "front.jpg", root) == "front"


def test_car_ids_of_found_pairs_also_with_a_relative_folder(tmp_path, monkeypatch):
    root = tmp_path / "shoot"
    for name in ("front", "side"):
        _photo(A, root / "ford_focus" / f"{name}.jpg")
        _mask_png(_mask(A), root / "ford_focus" / f"{name}_mask.png")
    for name in ("vw_golf", "audi_a4"):
        _photo(B, root / "images" / f"{name}.jpg")
        _mask_png(_mask(B), root / "masks" / f"{name}.png")
    _photo(A, root / "solo.jpg")
    _mask_png(_mask(A), root / "solo_mask.png")
    expected = {
        "front": "ford_focus",
        "side": "ford_focus",
        "vw_golf": "vw_golf",
        "audi_a4": "audi_a4",
        "solo": "solo",
    }

    report = find_pairs(root)
    assert report.problems == []
    assert {p.image.stem: p.car for p in report.pairs} == expected

    monkeypatch.chdir(tmp_path)  # the folder as a user types it: relative to where they are
    report = find_pairs("shoot")
    assert report.problems == []
    assert {p.image.stem: p.car for p in report.pairs} == expected


# --------------------------------------------------------------------------- split by car


@pytest.fixture(scope="module")
def carvana_pairs() -> list[Pair]:
    return find_pairs(CARVANA).pairs


def test_split_by_car_keeps_every_car_on_one_side(carvana_pairs):
    for seed in range(6):
        for fraction in (0.0, 0.15, 0.5, 0.99):
            train, val = split_by_car(carvana_pairs, fraction, seed)
            train_cars, val_cars = {p.car for p in train}, {p.car for p in val}
            assert train_cars and val_cars
            assert not train_cars & val_cars
            assert sorted(train + val, key=str) == sorted(carvana_pairs, key=str)
    train, val = split_by_car(carvana_pairs, 0.5, 0)
    assert len({p.car for p in val}) == 2


def test_split_by_car_is_deterministic_for_a_seed_and_seeds_differ(carvana_pairs):
    assert split_by_car(carvana_pairs, 0.25, 7) == split_by_car(carvana_pairs, 0.25, 7)
    val_cars = {
        frozenset(p.car for p in split_by_car(carvana_pairs, 0.25, seed)[1]) for seed in range(20)
    }
    assert len(val_cars) > 1


def test_split_by_car_needs_two_cars(carvana_pairs):
    one_car = [p for p in carvana_pairs if p.car == CARS[0]]
    assert len(one_car) == 5
    with pytest.raises(ValueError, match="at least 2 cars, found 1"):
        split_by_car(one_car)
    with pytest.raises(ValueError, match="found 0"):
        split_by_car([])


# --------------------------------------------------------------------------- dataset


@pytest.fixture(scope="module")
def real_pair() -> Pair:
    return find_pairs(CARVANA / "train").pairs[0]


@pytest.fixture
def encoded_pair(tmp_path) -> Pair:
    """A lossless photo whose pixels are its own mask (white car on black): any misalignment
    between augmented photo and augmented mask shows up as disagreeing pixels."""
    mask = _mask(A)
    image = _mask_png(mask, tmp_path / "encoded.png")
    Image.open(image).convert("RGB").save(image)
    return Pair(image, _mask_png(mask, tmp_path / "encoded_mask.png"), "encoded")


def _disagreement(image: torch.Tensor, mask: torch.Tensor) -> float:
    return float(((image.mean(0) > 0.5) != (mask[0] > 0.5)).float().mean())


def _best_alignment(image: torch.Tensor, mask: torch.Tensor) -> tuple[int, int, bool]:
    """The shift (dy, dx, flip) of the mask that best matches the photo: (0, 0, False) when
    they are aligned (resampling blurs edges a little, so a tolerance alone would be loose)."""
    scores = {}
    for flip in (False, True):
        m = mask.flip(-1) if flip else mask
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                scores[dy, dx, flip] = _disagreement(image, m.roll((dy, dx), (-2, -1)))
    return min(scores, key=scores.get)


def test_dataset_tensors(real_pair):
    ds = PairDataset([real_pair], SIZE)
    assert len(ds) == 1
    image, mask = ds[0]
    assert image.shape == (3, *SIZE) and image.dtype == torch.float32
    assert mask.shape == (1, *SIZE) and mask.dtype == torch.float32
    assert 0.0 <= image.min() < image.max() <= 1.0
    assert mask.min() == 0.0 and mask.max() == 1.0
    full = _mask(real_pair.image.stem)
    assert float(mask.mean()) == pytest.approx(full.mean(), abs=0.01)
    rgb, small = resize_pair(*load_pair(real_pair), SIZE)
    assert torch.equal(image, torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    assert torch.equal(mask[0], torch.from_numpy(small).float() / 255)


def test_downscaled_mask_keeps_edge_coverage(real_pair):
    """Soft targets: an edge pixel of the small mask holds the fraction of it that is car."""
    rgb, truth = load_pair(real_pair)
    h, w = truth.shape
    _, small = resize_pair(rgb, truth, (h // 4, w // 4))
    assert small.dtype == np.uint8
    blocks = truth[: h // 4 * 4, : w // 4 * 4].reshape(h // 4, 4, w // 4, 4).mean((1, 3))
    np.testing.assert_allclose(small / 255, blocks, atol=1 / 255 + 1e-6)
    edge = (small > 0) & (small < 255)
    assert 0 < edge.mean() < 0.05  # only the car's outline is partial


def test_augmentation_keeps_photo_and_mask_aligned(encoded_pair):
    plain_image, plain_mask = PairDataset([encoded_pair], SIZE)[0]
    assert _disagreement(plain_image, plain_mask) < 0.002
    for augment in (NO_JITTER, Augment()):
        ds = PairDataset([encoded_pair], SIZE, augment, seed=1)
        changed = 0
        for epoch in range(8):
            ds.epoch = epoch
            image, mask = ds[0]
            assert _disagreement(image, mask) < 0.01, (augment, epoch)
            assert _best_alignment(image, mask) == (0, 0, False), (augment, epoch)
            changed += not torch.equal(mask, plain_mask)
        assert changed >= 6  # crops and flips really happen


def test_flip_moves_photo_and_mask_together(encoded_pair):
    flip_only = Augment(scale=(1.0, 1.0), brightness=0, contrast=0, saturation=0, hue_degrees=0)
    _, plain = PairDataset([encoded_pair], SIZE)[0]
    ds = PairDataset([encoded_pair], SIZE, flip_only, seed=0)
    seen = set()
    for epoch in range(12):
        ds.epoch = epoch
        image, mask = ds[0]
        flipped = torch.equal(mask, plain.flip(-1))
        assert flipped or torch.equal(mask, plain)
        assert _disagreement(image, mask) < 0.002
        seen.add(flipped)
    assert seen == {True, False}


def test_crop_training_items_are_windows_at_the_photos_scale(encoded_pair, real_pair):
    """With `crop`, an item is a crop-sized window of the photo at the dataset's size, not the
    whole photo shrunk: without zoom or flip it is exactly a window of the plain item."""
    crop = (32, 48)
    _, plain = PairDataset([real_pair], SIZE)[0]
    window_only = Augment(scale=(1.0, 1.0), brightness=0, contrast=0, saturation=0, hue_degrees=0,
                          hflip=False)  # fmt: skip
    ds = PairDataset([real_pair], SIZE, window_only, seed=3, crop=crop)
    corners = set()
    for epoch in range(6):
        ds.epoch = epoch
        image, mask = ds[0]
        assert image.shape == (3, *crop) and mask.shape == (1, *crop)
        hits = [
            (y, x)
            for y in range(SIZE[0] - crop[0] + 1)
            for x in range(SIZE[1] - crop[1] + 1)
            if torch.equal(mask[0], plain[0, y : y + crop[0], x : x + crop[1]])
        ]
        assert hits, epoch
        corners.add(hits[0])
    assert len(corners) >= 3  # the window moves from epoch to epoch
    ds = PairDataset([encoded_pair], SIZE, Augment(), seed=2, crop=crop)
    for epoch in range(6):  # with zoom, flip and jitter the photo and mask stay aligned
        ds.epoch = epoch
        image, mask = ds[0]
        assert _best_alignment(image, mask) == (0, 0, False), epoch


def test_crop_larger_than_the_size_or_without_augmentation_is_refused(real_pair):
    with pytest.raises(ValueError, match="larger than the size"):
        PairDataset([real_pair], SIZE, Augment(), crop=(SIZE[0], SIZE[1] + 32))
    with pytest.raises(ValueError, match="needs an augmentation"):
        PairDataset([real_pair], SIZE, crop=(32, 32))


def test_augmented_real_photo_keeps_a_plausible_car(real_pair):
    _, plain = PairDataset([real_pair], SIZE)[0]
    f0 = float(plain.mean())
    ds = PairDataset([real_pair], SIZE, Augment(), seed=5)
    for epoch in range(6):
        ds.epoch = epoch
        image, mask = ds[0]
        assert image.shape == (3, *SIZE) and image.min() >= 0 and image.max() <= 1
        # the crop keeps at least 75% of each side: at most 1/0.75² more car, not most of it lost
        assert 0.3 * f0 < float(mask.mean()) < f0 / 0.75**2 + 0.02


def test_augmentation_depends_only_on_seed_epoch_and_index(real_pair):
    pairs = [real_pair, real_pair]

    def item(seed=0, epoch=0, index=0):
        ds = PairDataset(pairs, SIZE, Augment(), seed=seed)
        ds.epoch = epoch
        return ds[index]

    first = item()
    again = item()
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    for other in (item(epoch=1), item(seed=1), item(index=1)):
        assert not torch.equal(first[0], other[0])


def test_resized_cache_writes_once_and_reads_back_the_same(tmp_path, real_pair, monkeypatch):
    folder = tmp_path / "cache"
    cache = ResizedCache(folder, SIZE)
    rgb1, mask1 = cache.get(real_pair)
    files = list(folder.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"
    stamp = files[0].stat().st_mtime_ns

    def no_decoding(pair):
        raise AssertionError("the cached pair was decoded again")

    monkeypatch.setattr(engine.training.data, "load_pair", no_decoding)
    rgb2, mask2 = ResizedCache(folder, SIZE).get(real_pair)  # a new run, same folder
    assert list(folder.iterdir()) == files and files[0].stat().st_mtime_ns == stamp
    assert rgb2.shape == (*SIZE, 3) and rgb2.dtype == np.uint8
    assert mask2.shape == SIZE and mask2.dtype == np.uint8
    assert np.array_equal(rgb1, rgb2) and np.array_equal(mask1, mask2)
    monkeypatch.undo()

    ResizedCache(folder, (32, 48)).get(real_pair)  # another size is another entry
    assert len(list(folder.glob("*.npy"))) == 2
    assert not list(folder.glob("*.tmp*"))


def test_dataset_with_cache_gives_the_same_tensors(tmp_path, real_pair):
    plain = PairDataset([real_pair], SIZE, Augment(), seed=2)
    cached = PairDataset([real_pair], SIZE, Augment(), cache_dir=tmp_path / "c", seed=2)
    for _ in range(2):  # first: fills the cache; second: reads it
        for a, b in zip(plain[0], cached[0], strict=True):
            assert torch.equal(a, b)
