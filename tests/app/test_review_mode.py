"""Review mode in the studio window, with the shipped default model on real photos: cutouts of
a car on foreign backdrops are flagged, N goes to the least confident, A accepts it, the queue
shows only what needs a look, and a batch mostly out of the model's depth offers fine-tuning."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from engine.io import read_mask, read_rgb, save_image_atomic

DATA = Path(__file__).parents[1] / "data"
CAR = "1a17a1bd648b"


@pytest.fixture
def shoot(tmp_path) -> Path:
    """Angle 01 as photographed, and angles 02-05 pasted on web photos (streets, other cars)."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    shutil.copy(DATA / "listing" / f"{CAR}_01.jpg", folder)
    web = DATA / "web-cars" / "images"
    backdrops = [web / "rf_test_im11.jpg", web / "rf_valid_Carro_23.jpg"] * 2  # busy streets
    for angle, backdrop in zip(range(2, 6), backdrops, strict=True):
        rgb = read_rgb(DATA / "listing" / f"{CAR}_{angle:02d}.jpg")
        car = read_mask(DATA / "listing" / f"{CAR}_{angle:02d}_mask.png")
        street = cv2.resize(read_rgb(backdrop), rgb.shape[1::-1])
        pasted = np.where(car[..., None], rgb, street)
        save_image_atomic(folder / f"{CAR}_{angle:02d}.jpg", pasted, "JPEG", quality=92)
    return folder


def test_review_mode_flags_walks_and_accepts_the_doubtful_cutouts(qtbot, open_window, shoot):
    window = open_window()
    window.add_paths([str(shoot)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 5, timeout=10000)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    photos = {p.name: p for p in window.session.photos.values()}
    assert all(0 <= p.confidence <= 1 for p in photos.values())
    flagged = window.review.flagged()
    names = [p.name for p in flagged]
    assert sorted(names) == [f"{CAR}_{n:02d}.jpg" for n in range(2, 6)]  # the pasted ones
    assert [p.confidence for p in flagged] == sorted(p.confidence for p in flagged)
    item = window.queue.items[flagged[0].key]
    assert item.text(1).startswith("⚑ needs review") and flagged[0].reasons
    assert flagged[0].reasons[0] in item.toolTip(0)

    # mostly out of its depth: said once, with the way to fine-tune
    box = window.review.message
    assert box is not None and box.isVisible() and "fine-tune" in box.text()
    box.close()
    if shots := os.environ.get("CARMASK_SCREENSHOTS"):
        window.queue.select(flagged[0].key)
        qtbot.waitUntil(lambda: window.current_key == flagged[0].key, timeout=10000)
        window.grab().save(str(Path(shots) / "review-mode.png"))

    window.review_filter_action.trigger()  # only what needs a look
    clean = window.queue.items[photos[f"{CAR}_01.jpg"].key]
    assert clean.isHidden() and not item.isHidden()
    window.review_next_action.trigger()
    qtbot.waitUntil(lambda: window.current_key == flagged[0].key, timeout=10000)
    window.accept_action.trigger()
    assert window.session.photos[flagged[0].key].reviewed
    assert item.text(1) == "reviewed" and item.isHidden()
    window.review_next_action.trigger()
    qtbot.waitUntil(lambda: window.current_key == flagged[1].key, timeout=10000)

    window.close()  # what was reviewed is kept with the session
    again = open_window()
    kept = again.session.photos[flagged[0].key]
    assert kept.reviewed and kept.confidence == pytest.approx(flagged[0].confidence)
    assert [p.key for p in again.review.flagged()] == [p.key for p in flagged[1:]]


def test_an_angle_swapped_for_another_cars_photo_needs_review(qtbot, open_window, tmp_path):
    folder = tmp_path / "car"
    folder.mkdir()
    for photo in sorted((DATA / "listing").glob(f"{CAR}_[0-9][0-9].jpg")):
        shutil.copy(photo, folder)
    other = cv2.resize(read_rgb(DATA / "fullsize" / "0ed6904e1004_05.jpg"), (480, 320))
    save_image_atomic(folder / f"{CAR}_05.jpg", other, "JPEG", quality=92)
    window = open_window()
    window.add_paths([str(folder)])
    qtbot.waitUntil(lambda: len(window.session.photos) == 16, timeout=10000)
    window.start_action.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    qtbot.waitUntil(lambda: window.review.angles_checked == 1, timeout=30000)
    swapped = window.session.photos[str(folder / f"{CAR}_05.jpg")]
    assert any("jumps" in r for r in swapped.set_reasons)
    assert window.queue.items[swapped.key].text(1) == "⚑ needs review (angles)"
    with_reasons = [p.name for p in window.session.photos.values() if p.set_reasons]
    assert with_reasons == [f"{CAR}_05.jpg"]
    assert swapped in window.review.flagged()
