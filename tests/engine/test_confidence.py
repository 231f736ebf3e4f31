"""The confidence per photo (`engine.review.confidence`) with the shipped default model on real
full-size Carvana photos: high on clean cutouts, low with reasons when the cutout is off."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.cli import main
from engine.inference.predict import Predictor
from engine.io import read_mask, read_rgb
from engine.modelfiles.library import default_model_paths
from engine.review.confidence import confidence
from engine.review.verdict import needs_review
from engine.training.metrics import dice

DATA = Path(__file__).parents[1] / "data"
CLEAN = ("1a17a1bd648b_09", "3071362591f7_13")  # the default cuts these out at Dice > 0.99


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(default_model_paths(), device="cpu")


def _photo(stem: str) -> tuple[np.ndarray, np.ndarray]:
    return read_rgb(DATA / "fullsize" / f"{stem}.jpg"), read_mask(
        DATA / "fullsize" / f"{stem}_mask.gif"
    )


@pytest.mark.parametrize("stem", CLEAN)
def test_a_clean_cutout_scores_high_and_one_on_a_foreign_backdrop_low(predictor, stem):
    rgb, truth = _photo(stem)
    mask, checked = predictor.predict_checked(rgb)
    assert np.array_equal(mask, predictor.predict(rgb))  # the same mask as without the check
    assert checked.value > 0.85 and checked.reasons == ()
    street = read_rgb(DATA / "web-cars" / "images" / "rf_test_im11.jpg")  # another car, a lot
    street = cv2.resize(street, rgb.shape[1::-1])
    on_it = np.where(truth[..., None], rgb, street)
    foreign = predictor.predict_checked(on_it)[1]
    assert foreign.value < 0.5 and foreign.reasons


def test_a_corrupted_mask_scores_low_and_says_why():
    _, truth = _photo(CLEAN[0])
    prob = truth.astype(np.float32)
    assert confidence(prob).value > 0.95
    h, w = prob.shape
    blobbed = prob.copy()
    blobbed[50:250, 50:350] = 1  # a wall marked as car
    check = confidence(blobbed)
    assert check.value < 0.3 and any(r.startswith("stray blobs") for r in check.reasons)
    holed = prob.copy()
    ys, xs = np.nonzero(truth)
    cy, cx = int(ys.mean()), int(xs.mean())
    holed[cy - 120 : cy + 120, cx - 200 : cx + 200] = 0  # the car's middle lost
    check = confidence(holed)
    assert check.value < 0.3 and any(r.startswith("holes") for r in check.reasons)
    assert confidence(np.zeros((h, w), np.float32)).reasons == ("no car found",)


def test_the_report_has_one_json_line_per_photo(tmp_path, capsys):
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    for stem in CLEAN:
        (shoot / f"{stem}.jpg").write_bytes((DATA / "fullsize" / f"{stem}.jpg").read_bytes())
    (shoot / "broken.jpg").write_bytes(b"not a photo")
    report = tmp_path / "report.jsonl"
    code = main(["predict", str(shoot), "--out", str(tmp_path / "out"), "--report", str(report)])
    assert code == 1, capsys.readouterr()  # the broken photo failed; the rest went on
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    by_name = {Path(r["file"]).name: r for r in rows}
    assert sorted(by_name) == ["1a17a1bd648b_09.jpg", "3071362591f7_13.jpg", "broken.jpg"]
    assert by_name["broken.jpg"]["status"] == "failed" and by_name["broken.jpg"]["error"]
    for stem in CLEAN:
        row = by_name[f"{stem}.jpg"]
        assert row["status"] == "done" and 0.85 < row["confidence"] <= 1
        assert row["reasons"] == [] and row["seconds"] > 0
        assert row["needs_review"] is False  # by the studio's rule: a script can route on it
    assert "needs_review" not in by_name["broken.jpg"]  # said of finished photos only
    theirs = tmp_path / "notes.txt"  # a file of the studio's, named by mistake
    theirs.write_text("the studio's notes\n")
    with pytest.raises(SystemExit, match="not a carmask report"):
        main(["predict", str(shoot), "--out", str(tmp_path / "out"), "--report", str(theirs)])
    assert theirs.read_text() == "the studio's notes\n"


def test_the_report_flags_the_angle_swapped_for_another_cars_photo(tmp_path, capsys):
    from engine.io import save_image_atomic

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    car = "1a17a1bd648b"
    for photo in sorted((DATA / "listing").glob(f"{car}_[0-9][0-9].jpg")):
        (shoot / photo.name).write_bytes(photo.read_bytes())
    other = cv2.resize(read_rgb(DATA / "fullsize" / "0ed6904e1004_05.jpg"), (480, 320))
    save_image_atomic(shoot / f"{car}_05.jpg", other, "JPEG", quality=92)  # another car's photo
    report = tmp_path / "report.jsonl"
    code = main(["predict", str(shoot), "--out", str(tmp_path / "out"), "--report", str(report)])
    assert code == 0, capsys.readouterr()
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 16
    flagged = [Path(r["file"]).name for r in rows if any("jumps" in x for x in r["reasons"])]
    assert flagged == [f"{car}_05.jpg"]
    swapped = next(r for r in rows if r["file"].endswith("_05.jpg"))
    assert swapped["confidence"] <= 0.5
    assert [r["file"] for r in rows if r["needs_review"]] == [swapped["file"]]


WEB = DATA / "web-cars"


def test_a_good_cutout_of_a_real_web_photo_needs_no_review(predictor):
    """Issue 32: on real web photos nearly every cutout said "unsure edge" and needed review,
    the good ones too. This one the default cuts out at Dice 0.98 against its hand mask."""
    stem = "rf_valid_2011-278656-pagani-huayra-side-view1"
    rgb, truth = read_rgb(WEB / "images" / f"{stem}.jpg"), read_mask(WEB / "masks" / f"{stem}.png")
    mask, checked = predictor.predict_checked(rgb)
    assert dice(mask, truth) >= 0.97
    assert not needs_review(checked.value) and checked.reasons == ()


def test_every_photo_that_needs_review_says_why():
    """The confidence is the weakest check's score: below the review line, a check names its
    reason, so no photo is flagged without one (the blob's share is worked out at work size)."""
    _, truth = _photo(CLEAN[0])
    prob = truth.astype(np.float32)
    for share in (0.005, 0.01, 0.02, 0.03, 0.05):  # a stray blob of this share of the car
        blobbed = prob.copy()
        side = int(np.sqrt(share * truth.sum()))
        blobbed[20 : 20 + side, 20 : 20 + side] = 1
        check = confidence(blobbed)
        assert needs_review(check.value) == bool(check.reasons), (share, check)
    assert needs_review(confidence(blobbed).value)  # 5 % of the car lying apart
