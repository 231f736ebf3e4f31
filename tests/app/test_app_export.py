"""The app's Export shares the engine's rule: it never replaces a photo or a file it did not
write, even when the export folder is the shoot folder (real photos, real masks, real files)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from app.export_dialog import export_session
from app.session import DONE, Session
from engine.batch.export import ExportOptions
from engine.batch.outputs import MANIFEST_NAME
from engine.io import read_mask

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_export_into_the_shoot_folder_keeps_every_photo(tmp_path):
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    a, b = sorted((CARVANA / "val").glob("*.jpg"))[:2]
    shutil.copy(a, shoot / "car.jpg")
    Image.open(b).save(shoot / "car.png")  # another photo of the same name, as a PNG
    Image.open(CARVANA / "val_masks" / f"{a.stem}_mask.gif").convert("L").save(
        shoot / "car_mask.png"
    )  # and a hand-made mask of car.jpg
    before = _digests(shoot)
    session = Session(tmp_path / "session")
    report = session.add([shoot])
    assert sorted(p.name for p in session.photos.values()) == ["car.jpg", "car.png"]
    assert [(p.name, r) for p, r in report.problems] == [
        ("car_mask.png", "the mask of car.jpg, not a photo")
    ]
    truth = {
        "car.jpg": read_mask(CARVANA / "val_masks" / f"{a.stem}_mask.gif"),
        "car.png": read_mask(CARVANA / "val_masks" / f"{b.stem}_mask.gif"),
    }
    for photo in session.photos.values():
        session.write_model_mask(photo, truth[photo.path.name])
        session.set_status(photo, DONE)

    options = ExportOptions(formats=("png", "mask"))
    first = export_session(session, str(shoot), options)
    assert first.failed == [] and len(first.written) == 4
    after = _digests(shoot)
    assert {k: after[k] for k in before} == before  # photos and the hand-made mask untouched
    assert set(after) - set(before) == {
        "car_jpg.png",
        "car_jpg_mask.png",
        "car_png.png",
        "car_png_mask.png",
        MANIFEST_NAME,
    }
    np.testing.assert_array_equal(read_mask(shoot / "car_png_mask.png"), truth["car.png"])

    again = export_session(session, str(shoot), options)  # exporting again: the same files
    assert sorted(again.written) == sorted(first.written)
    assert set(_digests(shoot)) == set(after)
    # and the shoot added again brings in no cutouts as photos
    assert Session(tmp_path / "s2").add([shoot]).added and len(Session.scan([shoot])[0]) == 2


LISTING = Path(__file__).parents[1] / "data" / "listing"


def _listing_car(tmp_path: Path, angles: int | None = None) -> Session:
    """A session holding a real car's angles (all, or the first `angles`), segmented (their
    hand masks)."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    for photo in sorted(LISTING.glob("*_[0-9][0-9].jpg"))[:angles]:
        shutil.copy(photo, shoot / photo.name)
    session = Session(tmp_path / "session")
    session.add([shoot])
    for photo in session.photos.values():
        session.write_model_mask(photo, read_mask(LISTING / f"{photo.path.stem}_mask.png"))
        session.set_status(photo, DONE)
    return session


def test_export_dialog_writes_listing_frames_for_the_car_and_previews_one(qtbot, tmp_path):
    """The 16 angles of a real car, segmented (their hand masks): the dialog's listing options
    draw a live preview, and Export writes every angle framed at the size asked for, on the
    backdrop chosen, beside the cutouts; the options are remembered."""
    import os

    from PySide6.QtCore import QSettings

    from app.export_dialog import ExportDialog
    from app.settings import Settings
    from engine.io import read_rgb

    session = _listing_car(tmp_path)
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings = Settings(store)
    dialog = ExportDialog(session, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    box = dialog.listing
    box.enabled.setChecked(True)
    box.size_combo.setCurrentText("640x480")
    box.colour_button.set_colour("#204080")
    assert not dialog.spin_button.isVisible()
    box.spin.setChecked(True)
    qtbot.waitUntil(lambda: box.rendered >= 1 and box.preview.pixmap() is not None, timeout=30000)
    assert not box.preview.pixmap().isNull()
    if shots := os.environ.get("CARMASK_SCREENSHOTS"):
        dialog.grab().save(str(Path(shots) / "export-listing.png"))
    out = tmp_path / "out"
    dialog.folder.setText(str(out))
    dialog.png.setChecked(False)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=120000)
    assert dialog.report.failed == []
    frames = sorted(out.glob("*_listing.jpg"))
    assert len(frames) == 16 and not list(out.glob("*.png"))
    assert dialog.report.spins == [out / "1a17a1bd648b_spin.html"]  # the car's 360° page
    assert dialog.spin_button.isVisible()  # "Open spin"
    page = dialog.report.spins[0].read_text(encoding="utf-8")
    assert all(f'"{frame.name}"' in page for frame in frames)
    for frame in frames:
        rgb = read_rgb(frame)
        assert rgb.shape == (480, 640, 3)
        assert np.abs(rgb[:10, :10].astype(int) - (0x20, 0x40, 0x80)).max() <= 4
    again = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.listing_size == "640x480" and again.listing_backdrop == "#204080"
    assert "listing" in again.formats_text.split(",") and again.listing_spin == 1


def test_the_samples_cutouts_go_to_my_pictures_folder_not_the_install_folder(
    qtbot, open_window, tmp_path, monkeypatch
):
    install = tmp_path / "install" / "resources"  # the app's own folder, as installed
    shutil.copytree(Path(__file__).parents[2] / "resources" / "samples", install / "samples")
    monkeypatch.setenv("CARMASK_RESOURCES", str(install))
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # no user-dirs.dirs: ~/Pictures
    before = sorted(p.relative_to(install) for p in install.rglob("*"))
    window = open_window()
    window.acts.samples.trigger()
    qtbot.waitUntil(lambda: len(window.session.photos) > 0, timeout=10000)
    photo = next(iter(window.session.photos.values()))
    truth = read_mask(CARVANA / "val_masks" / "1a17a1bd648b_03_mask.gif")
    size = Image.open(photo.path).size
    window.session.write_model_mask(photo, np.asarray(Image.fromarray(truth).resize(size)))
    window.session.set_status(photo, DONE)

    report = export_session(window.session, "", ExportOptions(formats=("png",)))
    assert report.failed == [] and len(report.written) == 1
    assert report.folders == [home / "Pictures" / "CarMask Studio" / "cutouts"]
    assert report.written[0].parent == report.folders[0]
    assert sorted(p.relative_to(install) for p in install.rglob("*")) == before


def test_the_listing_preview_shows_the_selected_car_and_the_report_counts_spin_pages(
    qtbot, tmp_path
):
    from PySide6.QtCore import QSettings

    from app.export_dialog import ExportDialog
    from app.settings import Settings
    from engine.io import read_photo

    shoot = tmp_path / "shoot"
    shoot.mkdir()
    masks = {}
    for photo in sorted(LISTING.glob("*_[0-9][0-9].jpg"))[:3]:
        shutil.copy(photo, shoot / photo.name)
        masks[photo.name] = LISTING / f"{photo.stem}_mask.png"
    for photo in sorted((CARVANA / "val").glob("0ed6904e1004_*.jpg")):
        shutil.copy(photo, shoot / photo.name)
        masks[photo.name] = CARVANA / "val_masks" / f"{photo.stem}_mask.gif"
    session = Session(tmp_path / "session")
    session.add([shoot])
    for photo in session.photos.values():
        session.write_model_mask(photo, read_mask(masks[photo.path.name]))
        session.set_status(photo, DONE)
    selected = shoot / "0ed6904e1004_08.jpg"  # the second car, chosen in the queue
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    dialog = ExportDialog(session, settings, selected_photo=lambda: selected)
    qtbot.addWidget(dialog)
    rgb, _mask, others = dialog.listing.sample()
    np.testing.assert_array_equal(rgb, read_photo(selected).rgb)
    assert len(others) == 3  # framed with its own car's other angles

    box = dialog.listing
    box.enabled.setChecked(True)
    box.size_combo.setCurrentText("640x480")
    box.spin.setChecked(True)
    dialog.folder.setText(str(tmp_path / "out"))
    dialog.png.setChecked(False)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=120000)
    assert len(dialog.report.spins) == 2
    first = dialog.report_text.toPlainText().splitlines()[0]
    assert first.startswith("written: 7 file(s) and 2 360° spin page(s);"), first


def _one_car_dialog(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.export_dialog import ExportDialog
    from app.settings import Settings

    session = _listing_car(tmp_path, angles=2)
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    dialog = ExportDialog(session, settings)
    qtbot.addWidget(dialog)
    dialog.listing.enabled.setChecked(True)
    dialog.listing.size_combo.setCurrentText("640x480")
    dialog.png.setChecked(False)
    return dialog, settings


def _export(qtbot, dialog, out: Path) -> list[Path]:
    dialog.folder.setText(str(out))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=120000)
    assert dialog.report.failed == []
    return sorted(out.glob("*_listing.jpg"))


def test_listing_frames_offer_the_gradient_and_shadow_strength_of_the_cli(qtbot, tmp_path):
    from engine.io import read_rgb

    dialog, settings = _one_car_dialog(qtbot, tmp_path)
    box = dialog.listing
    box.colour_button.set_colour("#204080")
    box.gradient.setChecked(True)
    box.bottom_button.set_colour("#e0e0e0")
    box.strength.setValue(30)
    assert box.options().shadow.strength == pytest.approx(0.3)
    frames = _export(qtbot, dialog, tmp_path / "out")
    assert len(frames) == 2
    rgb = read_rgb(frames[0]).astype(int)
    assert np.abs(rgb[0, :10] - (0x20, 0x40, 0x80)).max() <= 6  # top: the top colour
    assert np.abs(rgb[-1, :10] - (0xE0, 0xE0, 0xE0)).max() <= 6  # bottom: the gradient's end
    assert settings.listing_backdrop_bottom == "#e0e0e0"
    assert settings.listing_shadow_strength == 30


def test_listing_frames_take_the_studios_backdrop_image_and_name_a_bad_one(qtbot, tmp_path):
    from engine.io import read_rgb

    dialog, settings = _one_car_dialog(qtbot, tmp_path)
    box = dialog.listing
    showroom = tmp_path / "showroom.png"
    Image.new("RGB", (800, 600), (150, 30, 40)).save(showroom)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    box.image.setText(str(broken))
    dialog.folder.setText(str(tmp_path / "never"))
    dialog.start()
    assert "broken.jpg" in dialog.report_text.toPlainText() and dialog.report is None
    box.image.setText(str(showroom))
    frames = _export(qtbot, dialog, tmp_path / "out")
    assert np.abs(read_rgb(frames[0])[:10, :10].astype(int) - (150, 30, 40)).max() <= 6
    assert settings.listing_backdrop_image == str(showroom)
