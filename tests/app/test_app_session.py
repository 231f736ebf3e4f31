"""The batch queue (Qt-free): intake with reasons, grouping by car, touch-ups, persistence."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")  # app/ is installed with the GUI dependencies

from app.session import DONE, FAILED, QUEUED, TOUCHED, Session, car_of

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


@pytest.fixture
def shoot(tmp_path):
    """A studio folder: two cars (Carvana names), a sub-folder of other photos, and junk."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    for f in sorted((CARVANA / "val").glob("*.jpg")):
        shutil.copy(f, folder / f.name)
    other = folder / "customer-a"
    other.mkdir()
    shutil.copy(CARVANA / "train" / "00087a6bd4dc_01.jpg", other / "front.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a photo")
    from PIL import Image

    Image.new("RGB", (40, 30), "red").save(folder / "tiny.png")
    (folder / "readme.txt").write_text("ignored: not an image type")
    return folder


def test_add_groups_by_car_and_lists_every_problem(tmp_path, shoot):
    session = Session(tmp_path / "s")
    report = session.add([shoot])
    assert len(report.added) == 8
    cars = session.cars()
    assert list(cars)[:2] == ["0ed6904e1004", "1a17a1bd648b"]
    assert [p.name for p in cars["0ed6904e1004"]] == [
        "0ed6904e1004_01.jpg",
        "0ed6904e1004_04.jpg",
        "0ed6904e1004_08.jpg",
        "0ed6904e1004_12.jpg",
    ]
    front = str(shoot.resolve() / "customer-a" / "front.jpg")
    assert [p.name for p in cars[front]] == ["front.jpg"]  # no angle name: a single photo
    reasons = {p.name: r for p, r in report.problems}
    assert reasons == {
        "empty.jpg": "empty file (0 bytes)",
        "notes.jpg": "not an image file (unrecognised content)",
        "readme.txt": "not a supported image type (.txt)",
        "tiny.png": "too small (40×30; at least 64 pixels a side)",
    }
    assert all(p.status == QUEUED and p.size == (480, 320) for p in session.photos.values())
    again = session.add([shoot, shoot / "0ed6904e1004_01.jpg"])
    assert again.added == [] and len(again.duplicates) == 8
    assert len(session.photos) == 8 and len(session.problems) == 4  # problems listed once


def test_car_of_a_turntable_photo_is_its_car_and_a_phone_photo_stands_alone():
    assert car_of(Path("/a/b/0ed6904e1004_07.jpg")) == "0ed6904e1004"
    phone = [Path("/a/golf-7/IMG_0042.jpg"), Path("/a/golf-7/IMG_0043.jpg")]
    assert car_of(phone[0]) != car_of(phone[1])  # not one "car" per folder


def test_touchup_is_kept_apart_from_the_model_mask_and_survives_reloading(tmp_path, shoot):
    folder = tmp_path / "s"
    session = Session(folder)
    session.add([shoot / "0ed6904e1004_01.jpg", shoot / "0ed6904e1004_04.jpg"])
    a, b = session.photos.values()
    model = np.zeros((320, 480), bool)
    model[100:200, 50:400] = True
    session.write_model_mask(a, model)
    session.set_status(a, DONE, seconds=0.2, model="m")
    session.set_status(b, FAILED, "truncated file")
    edit = model.copy()
    edit[10:20, 10:20] = True
    session.save_touchup(a, edit)
    assert a.status == TOUCHED

    # a later model run writes only the model mask; the touch-up stays
    session.write_model_mask(a, np.zeros_like(model))
    session.set_status(a, DONE)
    assert a.status == TOUCHED

    again = Session.load(folder)  # as after closing the app or a crash
    a2, b2 = again.photos.values()
    assert (a2.status, b2.status, b2.error) == (TOUCHED, FAILED, "truncated file")
    assert np.array_equal(again.mask(a2), edit)
    assert not again.model_mask(a2).any()
    again.discard_touchup(a2)
    assert a2.status == DONE and not again.mask(a2).any()
    assert [p.key for p in again.pending()] == [b2.key]


def test_a_touchup_equal_to_the_model_mask_is_no_touchup(tmp_path, shoot):
    session = Session(tmp_path / "s")
    session.add([shoot / "0ed6904e1004_01.jpg"])
    (photo,) = session.photos.values()
    model = np.ones((320, 480), bool)
    session.write_model_mask(photo, model)
    session.set_status(photo, DONE)
    session.save_touchup(photo, model.copy())
    assert photo.status == DONE
    assert not session.mask_file(photo, "edit").exists()


def test_photo_stopped_mid_run_or_with_a_lost_mask_is_queued_again(tmp_path, shoot):
    folder = tmp_path / "s"
    session = Session(folder)
    session.add([shoot / "0ed6904e1004_01.jpg", shoot / "0ed6904e1004_04.jpg"])
    a, b = session.photos.values()
    session.set_status(a, "processing")
    session.set_status(b, DONE)  # but no mask file was ever written
    again = Session.load(folder)
    assert [p.status for p in again.photos.values()] == [QUEUED, QUEUED]


def test_unreadable_session_file_starts_empty(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "session.json").write_text("{ truncated")
    assert Session.load(folder).photos == {}


def test_a_photo_over_the_size_limit_is_one_problem_not_a_failed_add(tmp_path, shoot):
    """A photo above the megapixel limit is refused from its header, named with what it would
    cost, and the other shots are still added."""
    from PIL import Image

    huge = shoot / "huge.jpg"
    Image.new("RGB", (1600, 1200), (90, 90, 90)).save(huge)
    report = Session(tmp_path / "s").add([shoot], max_megapixels=1.0)  # the shots are 480×320
    assert len(report.added) == 8
    assert {p.name: r for p, r in report.problems}["huge.jpg"] == (
        "1.9-megapixel photo: needs about 106 MB of memory, above the 1 MP limit "
        "(carmask predict --max-megapixels raises it)"
    )
