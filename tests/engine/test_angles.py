"""Checks across a car's 16 turntable angles (`engine.review.angles`) on a real Carvana set."""

from __future__ import annotations

from pathlib import Path

import cv2

from engine.io import read_mask
from engine.review.angles import check_sets, outline_of

DATA = Path(__file__).parents[1] / "data"
CAR = "1a17a1bd648b"


def _set(folder: Path) -> dict[Path, object]:
    return {
        folder / f"{CAR}_{n:02d}.jpg": outline_of(
            read_mask(DATA / "listing" / f"{CAR}_{n:02d}_mask.png")
        )
        for n in range(1, 17)
    }


def test_a_whole_set_of_one_car_is_not_flagged(tmp_path):
    assert check_sets(_set(tmp_path)) == {}


def test_an_angle_swapped_for_another_cars_photo_is_flagged_on_that_angle(tmp_path):
    outlines = _set(tmp_path)
    other = read_mask(DATA / "fullsize" / "0ed6904e1004_05_mask.gif")  # a bigger car
    other = cv2.resize(other.astype("uint8"), (480, 320), interpolation=cv2.INTER_NEAREST) > 0
    outlines[tmp_path / f"{CAR}_05.jpg"] = outline_of(other)
    flagged = check_sets(outlines)
    assert list(flagged) == [tmp_path / f"{CAR}_05.jpg"]
    assert any("jumps" in r for r in flagged[tmp_path / f"{CAR}_05.jpg"])


def test_missing_and_repeated_angles_are_named(tmp_path):
    outlines = _set(tmp_path)
    del outlines[tmp_path / f"{CAR}_07.jpg"], outlines[tmp_path / f"{CAR}_12.jpg"]
    again = tmp_path / "again"
    outlines[again / f"{CAR}_03.jpg"] = outlines[tmp_path / f"{CAR}_03.jpg"]  # another folder
    flagged = check_sets(outlines)
    assert flagged[tmp_path / f"{CAR}_01.jpg"] == [f"{CAR} lacks angle(s) 07, 12 of 16"]
    assert tmp_path / f"{CAR}_03.jpg" not in flagged  # a car is per folder: no repeat here
    twice = {
        **_set(tmp_path),
        tmp_path / f"{CAR}_03.png": outline_of(read_mask(DATA / "listing" / f"{CAR}_03_mask.png")),
    }
    flagged = check_sets(twice)
    assert set(flagged) == {tmp_path / f"{CAR}_03.jpg", tmp_path / f"{CAR}_03.png"}
    assert "given twice" in flagged[tmp_path / f"{CAR}_03.png"][0]
