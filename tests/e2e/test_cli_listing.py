"""`carmask predict --format listing`: a real car's 16 turntable angles (tests/data/listing) cut
out by a real (tiny) trained model, framed as one set on a backdrop with a shadow."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.io import read_rgb

LISTING = Path(__file__).parents[1] / "data" / "listing"
NAVY = (32, 64, 160)


@pytest.fixture
def shoot(tmp_path) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for photo in sorted(LISTING.glob("*_[0-9][0-9].jpg")):
        shutil.copy(photo, folder / photo.name)
    return folder


def _predict(model, *args) -> int:
    return main(["predict", *map(str, args), "--model", str(model), "--device", "cpu", "-q"])


def _listing(model, shoot, out, options: str, *paths) -> int:
    """Listing frames of `shoot` into `out`, with `options` as typed (and `paths` after them)."""
    return _predict(model, shoot, "--out", out, "--format", "listing", *options.split(), *paths)


def test_listing_frames_every_angle_at_the_size_on_the_backdrop(
    trained_model, shoot, tmp_path, capsys
):
    out = tmp_path / "out"
    options = "--format png --size 640x480 --backdrop #2040a0 --shadow contact --margin 0.08"
    code = _listing(trained_model, shoot, out, options)
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "done: 16, failed: 0" in printed
    frames = sorted(out.glob("*_listing.jpg"))
    assert [f.name.removesuffix("_listing.jpg") for f in frames] == sorted(
        p.stem for p in shoot.glob("*.jpg")
    )
    assert len(list(out.glob("*.png"))) == 16  # the cutouts asked for beside them
    for frame in frames:
        rgb = read_rgb(frame)
        assert rgb.shape == (480, 640, 3)
        corner = rgb[:20, :20].reshape(-1, 3).astype(int)
        assert np.abs(corner - NAVY).max() <= 4  # the backdrop (JPEG: within a few levels)
    assert "listing frame enlarged" in printed  # 480x320 photos in a 640x480 frame: said so


def test_listing_options_are_checked_before_any_photo_is_read(
    trained_model, shoot, tmp_path, capsys
):
    out = tmp_path / "out"
    for options, said in (
        ("--size 640", "size must be WIDTHxHEIGHT"),
        ("--margin 0.9", "must be from 0 to 0.4"),
        ("--shadow real-ish", "invalid choice"),
    ):
        with pytest.raises(SystemExit):
            _listing(trained_model, shoot, out, options)
        assert said in capsys.readouterr().err
    missing = tmp_path / "no-such-backdrop.jpg"
    with pytest.raises(SystemExit, match="--backdrop-image"):
        _listing(trained_model, shoot, out, "--backdrop-image", missing)
    assert not out.exists() or not any(out.glob("*_listing.jpg"))


def test_listing_frames_named_by_a_template_with_stock_numbers(
    trained_model, shoot, tmp_path, capsys
):
    out = tmp_path / "out"
    stocks = tmp_path / "stock.csv"
    stocks.write_text("car,stock\n1a17a1bd648b,VIN123\n")
    options = "--size 640x480 --name-template {stock}_{angle:02d} --stock-numbers"
    code = _listing(trained_model, shoot, out, options, stocks)
    assert code == 0, capsys.readouterr().out
    assert sorted(f.name for f in out.glob("*.jpg")) == [
        f"VIN123_{n:02d}.jpg" for n in range(1, 17)
    ]


def test_a_template_name_that_is_taken_gets_a_suffix_not_the_other_file(
    trained_model, shoot, tmp_path, capsys
):
    """`{stem}` would name the frame X.jpg, which --format jpg writes too: the frame steps aside."""
    out = tmp_path / "out"
    code = _listing(trained_model, shoot, out, "--format jpg --size 640x480 --name-template {stem}")
    assert code == 0, capsys.readouterr().out
    stems = sorted(p.stem for p in shoot.glob("*.jpg"))
    assert sorted(f.name for f in out.glob("*.jpg")) == sorted(
        [f"{s}.jpg" for s in stems] + [f"{s}_listing.jpg" for s in stems]
    )
    assert read_rgb(out / f"{stems[0]}_listing.jpg").shape == (480, 640, 3)  # the frame
    assert read_rgb(out / f"{stems[0]}.jpg").shape == (320, 480, 3)  # the photo on a colour


def test_bad_name_templates_and_stock_files_are_refused(trained_model, shoot, tmp_path, capsys):
    out = tmp_path / "out"
    for template, said in (
        ("{vin}_{angle}", "unknown field 'vin'"),
        ("{car}/x", "no usable file name"),
    ):
        with pytest.raises(SystemExit):
            _listing(trained_model, shoot, out, "--name-template", template)
        assert said in capsys.readouterr().err
    bad = tmp_path / "stock.csv"
    bad.write_text("1a17a1bd648b\n")
    with pytest.raises(SystemExit, match="line 1: expected 'car,stock'"):
        _listing(trained_model, shoot, out, "--name-template {stock} --stock-numbers", bad)
    with pytest.raises(SystemExit, match="add --format listing"):
        _predict(trained_model, shoot, "--out", out, "--name-template", "{stock}")
