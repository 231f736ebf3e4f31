"""`carmask predict --format listing`: names are never silently shared or made up, and listing
options and guards are never silently ignored. Each refusal comes before any photo is read
(nothing is written); a car the stock file lacks is named by its id, said in the summary and
the report. Real photos of a real car (tests/data/listing), the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main

LISTING = Path(__file__).parents[1] / "data" / "listing"


@pytest.fixture
def two_cars(tmp_path) -> Path:
    """Two angles each of cars `red` and `blue` (the same real photos under two car ids)."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    for n in (1, 2):
        for car in ("red", "blue"):
            shutil.copy(LISTING / f"1a17a1bd648b_{n:02d}.jpg", shoot / f"{car}_{n:02d}.jpg")
    return shoot


def _run(model, shoot: Path, out: Path, *options) -> int:
    args = ["predict", str(shoot), "--out", str(out), *map(str, options)]
    return main([*args, "--model", str(model), "--device", "cpu", "-q"])


def _refused(model, shoot: Path, out: Path, *options) -> str:
    """The error message of a batch refused before any photo is read."""
    with pytest.raises(SystemExit) as refused:
        _run(model, shoot, out, *options)
    assert not out.exists(), "refused, yet something was written"
    return str(refused.value)


def _stocks(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return path


LISTED = ("--format", "listing", "--size", "320x240", "--name-template", "{stock}_{angle:02d}")


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        ("red,VIN1\nblue,vin1\n", "lines 1 and 2: cars 'red' and 'blue' have one stock number"),
        ("car,stock\nred,VIN1\nblue,VIN2\nred,VIN3\n", "lines 2 and 4: car 'red' is listed twice"),
        ("red,.\nblue,VIN2\n", "line 1: '.' would make hidden file names"),
        ("red,VIN1\nblue,..\n", "line 2: '..' would make hidden file names"),
        ("red,VIN1\nblue,a/b\n", "line 2: 'a/b' cannot be part of a file name"),
    ],
)
def test_a_stock_file_that_would_share_or_hide_names_is_refused(
    trained_model, two_cars, tmp_path, lines, said
):
    stocks = _stocks(tmp_path, lines)
    message = _refused(
        trained_model, two_cars, tmp_path / "out", *LISTED, "--stock-numbers", stocks
    )
    assert f"--stock-numbers: {stocks}, {said}" in message


def test_a_template_that_gives_photos_one_name_is_refused(trained_model, two_cars, tmp_path):
    out = tmp_path / "out"
    listing = ("--format", "listing", "--size", "320x240", "--name-template")
    message = _refused(trained_model, two_cars, out, *listing, "{car}")
    assert "--name-template: name template '{car}' gives" in message
    assert "blue_01.jpg and " in message and "blue_02.jpg one name, 'blue'" in message
    assert "add {angle} or {stem}" in message
    # one car id in two folders, written into one output folder
    other = tmp_path / "day2"
    other.mkdir()
    shutil.copy(two_cars / "red_01.jpg", other / "red_01.jpg")
    with pytest.raises(SystemExit) as refused:
        main(
            ["predict", str(two_cars), str(other), "--out", str(out), *listing, "{car}_{angle:02d}"]
        )
    assert "one name, 'red_01'" in str(refused.value) and "two folders" in str(refused.value)
    assert not out.exists()


def test_a_car_missing_from_the_stock_file_is_named_by_its_id_and_said_so(
    trained_model, two_cars, tmp_path, capsys
):
    stocks = _stocks(tmp_path, "car,stock\nred,VIN1\n")
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    options = (*LISTED, "--stock-numbers", stocks, "--report", report)
    assert _run(trained_model, two_cars, out, *options) == 0
    names = sorted(f.name for f in out.glob("*.jpg"))
    assert names == ["VIN1_01.jpg", "VIN1_02.jpg", "blue_01.jpg", "blue_02.jpg"]
    note = f"not in {stocks}: its listing frames are named with its id"
    assert f"note: {two_cars / 'blue'}: {note}" in capsys.readouterr().out
    rows = {Path(r["file"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert rows["blue_01.jpg"]["notes"] == [note] and rows["blue_02.jpg"]["notes"] == [note]
    assert "notes" not in rows["red_01.jpg"]


@pytest.mark.parametrize(
    "option",
    [
        ("--size", "800x600"),
        ("--backdrop", "#2040a0"),
        ("--shadow", "none"),
        ("--margin", "0.1"),
        ("--stock-numbers", "no-such-file.csv"),
        ("--spin",),
    ],
)
def test_a_listing_option_without_listing_frames_is_refused_naming_it(
    trained_model, two_cars, tmp_path, option
):
    message = _refused(trained_model, two_cars, tmp_path / "out", "--format", "png", *option)
    assert f"{option[0]} is for listing frames: add --format listing" in message


def test_stock_numbers_without_a_template_that_holds_them_are_refused(
    trained_model, two_cars, tmp_path
):
    stocks = _stocks(tmp_path, "red,VIN1\nblue,VIN2\n")
    for template in ((), ("--name-template", "{car}_{angle:02d}")):
        options = ("--format", "listing", *template, "--stock-numbers", stocks)
        message = _refused(trained_model, two_cars, tmp_path / "out", *options)
        assert "--stock-numbers gives the {stock} of --name-template" in message


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (("--max-megapixels", "nan"), "must be a number of megapixels above 0, not 'nan'"),
        (("--max-megapixels", "inf"), "must be a number of megapixels above 0, not 'inf'"),
        (("--max-megapixels", "0"), "must be a number of megapixels above 0, not '0'"),
        (("--max-megapixels", "-5"), "must be a number of megapixels above 0, not '-5'"),
        (
            ("--format", "listing", "--size", "16384x16384"),
            "size 16384x16384 is 268 megapixels a frame (about 8.1 GB of memory each); "
            "at most 64 megapixels",
        ),
    ],
)
def test_a_guard_cannot_be_switched_off_or_outgrown(
    trained_model, two_cars, tmp_path, capsys, option, said
):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as refused:
        _run(trained_model, two_cars, out, *option)
    assert refused.value.code == 2
    assert said in capsys.readouterr().err
    assert not out.exists()
