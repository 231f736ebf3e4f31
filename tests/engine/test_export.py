"""Tests for engine.batch.export: cutout PNG, mask PNG and JPEG-on-colour outputs (real files)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from cutout_checks import assert_cutout_of
from PIL import Image

from engine.batch.export import (
    EXPORT_FORMATS,
    ExportOptions,
    composite_on,
    cutout_rgba,
    export_photo,
    output_paths,
)
from engine.batch.outputs import MANIFEST_NAME, OutputPlan
from engine.io import OutputWriteError, os_error_reason, read_mask, read_rgb

DATA = Path(__file__).parents[1] / "data"
PHOTO = DATA / "carvana" / "train" / "00087a6bd4dc_01.jpg"
GIF_MASK = DATA / "carvana" / "train_masks" / "00087a6bd4dc_01_mask.gif"
ALL = ExportOptions(formats=EXPORT_FORMATS)


@pytest.fixture
def photo() -> tuple[np.ndarray, np.ndarray]:
    return read_rgb(PHOTO), read_mask(GIF_MASK)


def _snapshot(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


# --------------------------------------------------------------------------- naming


def test_output_paths_follow_input_name(tmp_path: Path) -> None:
    paths = output_paths("/photos/car_01.jpg", tmp_path, EXPORT_FORMATS)
    assert paths == {
        "png": tmp_path / "car_01.png",
        "mask": tmp_path / "car_01_mask.png",
        "jpg": tmp_path / "car_01.jpg",
    }


def test_output_paths_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'gif'") as info:
        output_paths("car.jpg", tmp_path, ("png", "gif"))
    for name in EXPORT_FORMATS:
        assert name in str(info.value)


# --------------------------------------------------------------------------- arrays


def test_cutout_rgba_is_bit_exact(photo) -> None:
    rgb, mask = photo
    out = cutout_rgba(rgb, mask)
    assert out.shape == (*rgb.shape[:2], 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, :3], rgb)
    np.testing.assert_array_equal(out[:, :, 3], np.where(mask, 255, 0))


def test_cutout_rgba_soft_alpha_used_as_is(photo) -> None:
    rgb, _ = photo
    alpha = np.random.default_rng(0).integers(0, 256, size=rgb.shape[:2], dtype=np.uint8)
    out = cutout_rgba(rgb, alpha)
    np.testing.assert_array_equal(out[:, :, 3], alpha)
    np.testing.assert_array_equal(out[:, :, :3], rgb)


def test_cutout_rgba_shape_mismatch(photo) -> None:
    rgb, mask = photo
    with pytest.raises(ValueError, match="shape"):
        cutout_rgba(rgb, mask[:-1])
    with pytest.raises(ValueError, match="shape"):
        composite_on(rgb, mask.T, (0, 0, 0))


def test_composite_on_hard_mask(photo) -> None:
    rgb, mask = photo
    out = composite_on(rgb, mask, (10, 20, 30))
    np.testing.assert_array_equal(out[mask], rgb[mask])
    assert (out[~mask] == (10, 20, 30)).all()


def test_composite_on_soft_alpha_blends() -> None:
    rgb = np.full((2, 3, 3), 200, np.uint8)
    alpha = np.array([[0, 255, 128], [64, 192, 255]], np.uint8)
    out = composite_on(rgb, alpha, (0, 100, 255))
    expected = np.round(
        rgb * (alpha[:, :, None] / 255.0)
        + np.array([0, 100, 255]) * (1 - alpha[:, :, None] / 255.0)
    )
    assert np.abs(out.astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(out[0, 0], (0, 100, 255))
    np.testing.assert_array_equal(out[0, 1], (200, 200, 200))


# --------------------------------------------------------------------------- export_photo


def test_export_all_formats(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    before = _snapshot(PHOTO)
    out_dir = tmp_path / "out" / "nested"
    options = ExportOptions(formats=EXPORT_FORMATS, background=(0, 128, 255), jpeg_quality=92)
    written = export_photo(rgb, mask, PHOTO, out_dir, options)

    stem = PHOTO.stem
    assert written == [
        out_dir / f"{stem}.png",
        out_dir / f"{stem}_mask.png",
        out_dir / f"{stem}.jpg",
    ]
    assert sorted(out_dir.iterdir()) == sorted([*written, out_dir / MANIFEST_NAME])  # no temps
    assert _snapshot(PHOTO) == before

    with Image.open(written[0]) as im:
        assert im.format == "PNG" and im.mode == "RGBA"
        rgba = np.array(im)
    assert_cutout_of(rgba, rgb, mask)  # soft edge, decontaminated, nothing under alpha 0

    with Image.open(written[1]) as im:
        assert im.format == "PNG" and im.mode == "L"
        saved_mask = np.array(im)
    assert set(np.unique(saved_mask)) == {0, 255}
    np.testing.assert_array_equal(saved_mask == 255, mask)

    with Image.open(written[2]) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        jpg = np.array(im).astype(int)
    background = _erode(~mask, 8)  # JPEG ringing stays within an 8x8 block of the edge
    inside = _erode(mask, 8)
    assert background.mean() > 0.1
    bg_err = np.abs(jpg[background] - (0, 128, 255))
    assert bg_err.mean() < 2 and bg_err.max() <= 12
    assert np.abs(jpg[inside] - rgb[inside].astype(int)).mean() < 4


def test_export_keeps_the_photos_colour_profile(photo, tmp_path: Path) -> None:
    """A studio shooting in Adobe RGB or Display P3 gets cutouts that look like the original in
    colour-managed software: the photo's ICC profile goes into the cutout PNG and the composite
    JPEG (a mask has no colours, so none there); a photo without one gets none."""
    from PIL import ImageCms

    rgb, mask = photo
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    tagged = tmp_path / "studio" / "car_01.jpg"
    tagged.parent.mkdir()
    Image.fromarray(rgb).save(tagged, quality=95, icc_profile=icc)
    written = export_photo(rgb, mask, tagged, tmp_path / "out", ALL)
    profiles = {}
    for path in written:
        with Image.open(path) as im:
            profiles[path.name] = im.info.get("icc_profile")
    assert profiles == {"car_01.png": icc, "car_01_mask.png": None, "car_01.jpg": icc}

    plain = export_photo(rgb, mask, PHOTO, tmp_path / "plain", ALL)
    for path in plain:
        with Image.open(path) as im:
            assert im.info.get("icc_profile") is None, path.name


def test_export_default_is_cutout_png(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    written = export_photo(rgb, mask, PHOTO, tmp_path)
    assert written == [tmp_path / f"{PHOTO.stem}.png"]
    np.testing.assert_array_equal(read_mask(written[0]), mask)
    assert_cutout_of(np.asarray(Image.open(written[0])), rgb, mask)


def test_export_overwrites_previous_outputs(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    export_photo(rgb, mask, PHOTO, tmp_path, ALL)
    written = export_photo(rgb, ~mask, PHOTO, tmp_path, ALL)
    np.testing.assert_array_equal(read_mask(written[1]), ~mask)
    assert _temp_files(tmp_path) == []


def test_export_beside_an_input_of_the_same_name_picks_another_name(photo, tmp_path) -> None:
    rgb, mask = photo
    src = tmp_path / "car_01.jpg"
    shutil.copy2(PHOTO, src)
    before = _snapshot(src)
    written = export_photo(rgb, mask, src, tmp_path, ALL)
    assert [p.name for p in written] == ["car_01_jpg.png", "car_01_jpg_mask.png", "car_01_jpg.jpg"]
    assert _snapshot(src) == before


def test_export_never_writes_onto_the_photo_under_another_spelling(photo, tmp_path) -> None:
    rgb, mask = photo
    src = tmp_path / "car.png"
    Image.fromarray(rgb).save(src)
    before = _snapshot(src)
    out_dir = tmp_path / "sub" / ".."  # same folder, spelled differently
    (tmp_path / "sub").mkdir()
    written = export_photo(rgb, mask, src, out_dir, ExportOptions(formats=("mask", "png")))
    assert [p.name for p in written] == ["car_png_mask.png", "car_png.png"]
    assert _snapshot(src) == before
    # asked outright for a name that is the photo: refused, nothing written
    plan = OutputPlan(("png",), [src])
    with pytest.raises(OutputWriteError, match="would overwrite an input photo"):
        plan.write(tmp_path / "car.png", src, lambda f: f.write(b"x"))
    assert _snapshot(src) == before


def test_export_leaves_files_it_did_not_write(photo, tmp_path) -> None:
    """A file of the same name that CarMask did not write (or that was edited since) is kept."""
    rgb, mask = photo
    theirs = tmp_path / f"{PHOTO.stem}.png"
    theirs.write_bytes(b"the studio's own file")
    written = export_photo(rgb, mask, PHOTO, tmp_path, ExportOptions(formats=("png",)))
    assert written == [tmp_path / f"{PHOTO.stem}_jpg.png"]
    assert theirs.read_bytes() == b"the studio's own file"
    # our own output is replaced by a rerun; once a person edits it, it is theirs
    again = export_photo(rgb, mask, PHOTO, tmp_path, ExportOptions(formats=("png",)))
    assert again == written
    written[0].write_bytes(b"retouched by hand")
    third = export_photo(rgb, mask, PHOTO, tmp_path, ExportOptions(formats=("png",)))
    assert third == [tmp_path / f"{PHOTO.stem}_jpg_2.png"]
    assert written[0].read_bytes() == b"retouched by hand"
    assert (tmp_path / MANIFEST_NAME).is_file()


def test_a_file_appearing_after_planning_is_not_replaced(photo, tmp_path) -> None:
    rgb, mask = photo
    plan = OutputPlan(("png",), [PHOTO])
    paths = plan.assign(PHOTO, tmp_path)
    paths["png"].write_bytes(b"copied in meanwhile")
    with pytest.raises(OutputWriteError, match="did not write is in the way"):
        export_photo(rgb, mask, PHOTO, tmp_path, ExportOptions(formats=("png",)), plan)
    assert paths["png"].read_bytes() == b"copied in meanwhile"
    assert _temp_files(tmp_path) == []


def test_photo_alpha_bounds_the_cutout(photo, tmp_path) -> None:
    rgb, mask = photo
    alpha = np.full(mask.shape, 255, np.uint8)
    alpha[:, : mask.shape[1] // 2] = 0  # the left half was transparent in the photo
    (out,) = export_photo(rgb, mask, PHOTO, tmp_path, ExportOptions(("mask",)), alpha=alpha)
    got = read_mask(out)
    assert not got[:, : mask.shape[1] // 2].any()
    np.testing.assert_array_equal(got[:, mask.shape[1] // 2 :], mask[:, mask.shape[1] // 2 :])


def test_export_next_to_input_when_names_differ(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    src = tmp_path / "car.jpg"
    shutil.copy2(PHOTO, src)
    before = _snapshot(src)
    written = export_photo(rgb, mask, src, tmp_path, ExportOptions(formats=("png", "mask")))
    assert written == [tmp_path / "car.png", tmp_path / "car_mask.png"]
    assert _snapshot(src) == before


def test_export_unknown_format_writes_nothing(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    with pytest.raises(ValueError, match="tiff"):
        export_photo(rgb, mask, PHOTO, tmp_path / "out", ExportOptions(formats=("png", "tiff")))
    assert list(tmp_path.iterdir()) == []


def test_export_out_dir_is_a_file(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    blocker = tmp_path / "out"
    blocker.write_bytes(b"not a folder")
    with pytest.raises(OutputWriteError) as info:
        export_photo(rgb, mask, PHOTO, blocker)
    assert info.value.path == blocker / f"{PHOTO.stem}.png"
    assert f"{PHOTO.stem}.png" in str(info.value)
    assert blocker.read_bytes() == b"not a folder"


def _can_write(folder: Path) -> bool:
    """Really try to create a file in ``folder`` (os.access lies for root)."""
    probe = folder / ".carmask-write-probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


def test_export_to_unwritable_folder(photo, tmp_path: Path) -> None:
    """Read-only folder via chmod where that works; otherwise places that fail even for root."""
    rgb, mask = photo
    before = _snapshot(PHOTO)
    name = f"{PHOTO.stem}.png"

    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        chmod_works = not _can_write(readonly)
        cases: list[tuple[Path, set[str]]] = []  # (output folder, acceptable reasons)
        if chmod_works:
            cases.append((readonly, {"permission denied", "read-only file system"}))
        # Parent is a regular file: fails for every user, root included.
        blocker = tmp_path / "blocker"
        blocker.write_bytes(b"file")
        cases.append((blocker / "out", {"part of the folder path is a file, not a folder"}))
        # Kernel pseudo file systems refuse new entries even for root (checked, not assumed).
        for special in (Path("/proc/carmask-test"), Path("/sys/carmask-test")):
            if special.parent.is_dir() and not special.exists():
                try:
                    special.mkdir()
                except OSError as exc:
                    cases.append((special, {os_error_reason(exc)}))
                else:  # pragma: no cover - unexpected: clean up, do not use
                    special.rmdir()

        assert cases
        for out_dir, reasons in cases:
            with pytest.raises(OutputWriteError) as info:
                export_photo(rgb, mask, PHOTO, out_dir, ALL)
            err = info.value
            assert err.path.parent == out_dir
            assert err.path.name in {name, f"{PHOTO.stem}_mask.png", f"{PHOTO.stem}.jpg"}
            assert name in str(err)
            assert any(reason in err.reason for reason in reasons), err.reason
            if out_dir.is_dir():
                assert list(out_dir.iterdir()) == []  # no partial or temp files
    finally:
        readonly.chmod(0o700)
    assert _snapshot(PHOTO) == before
    assert _temp_files(tmp_path) == []


def test_export_chmod_readonly_folder_when_not_root(photo, tmp_path: Path) -> None:
    """The classic read-only output folder; as root chmod cannot stop writes, so say so."""
    rgb, mask = photo
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if _can_write(readonly):
            pytest.skip("running as root: chmod 0o500 does not stop writes (covered above)")
        with pytest.raises(OutputWriteError) as info:
            export_photo(rgb, mask, PHOTO, readonly)
        assert f"{PHOTO.stem}.png" in str(info.value)
        assert info.value.reason == "permission denied"
        assert list(readonly.iterdir()) == []
    finally:
        readonly.chmod(0o700)


def test_export_failure_midway_leaves_no_temp_files(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    plan = OutputPlan(ALL.formats, [PHOTO])
    plan.assign(PHOTO, out_dir)
    (out_dir / f"{PHOTO.stem}.jpg").mkdir()  # a folder squats on the JPEG's name meanwhile
    with pytest.raises(OutputWriteError) as info:
        export_photo(rgb, mask, PHOTO, out_dir, ALL, plan)
    assert info.value.path == out_dir / f"{PHOTO.stem}.jpg"
    assert "did not write is in the way" in info.value.reason
    assert _temp_files(tmp_path) == []
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [MANIFEST_NAME, f"{PHOTO.stem}.png", f"{PHOTO.stem}_mask.png", f"{PHOTO.stem}.jpg"]
    )


def test_export_does_not_touch_fixture_files(photo, tmp_path: Path) -> None:
    rgb, mask = photo
    before = {p: _snapshot(p) for p in (PHOTO, GIF_MASK)}
    export_photo(rgb, mask, PHOTO, tmp_path, ALL)
    assert {p: _snapshot(p) for p in (PHOTO, GIF_MASK)} == before
    assert not any((PHOTO.parent / f"{PHOTO.stem}{s}").exists() for s in (".png", "_mask.png"))


def test_one_plan_never_lets_two_photos_share_an_output_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    out = tmp_path / "out"
    items = [
        (a / "car_01.jpg", out),
        (a / "car_01.png", out),  # same stem, same folder
        (b / "car_01.jpg", out),  # same name from another folder into the same output
        (b / "car_02.jpg", b / "cutouts"),
        (a / "car_02.jpg", a / "cutouts"),  # same name, but other output folders: kept
    ]
    plan = OutputPlan(("png",), [i for i, _ in items])
    stems = {i: plan.assign(i, o)["png"].stem for i, o in items}
    assert stems[a / "car_01.jpg"] == "car_01"
    assert stems[a / "car_01.png"] == "car_01_png"
    assert stems[b / "car_01.jpg"] == "car_01_jpg"
    assert stems[b / "car_02.jpg"] == stems[a / "car_02.jpg"] == "car_02"
    rgb = np.zeros((8, 8, 3), np.uint8)
    mask = np.ones((8, 8), bool)
    for inp, folder in items[:3]:
        export_photo(rgb, mask, inp, folder, ExportOptions(("png",)), plan)
    assert sorted(p.name for p in out.iterdir()) == [
        MANIFEST_NAME,
        "car_01.png",
        "car_01_jpg.png",
        "car_01_png.png",
    ]
