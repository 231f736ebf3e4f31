"""Tests for engine.io: reading photos/masks, finding images, atomic writes (real files)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from engine.batch.export import cutout_rgba
from engine.io import (
    IMAGE_SUFFIXES,
    ImageReadError,
    OutputWriteError,
    atomic_write,
    atomic_write_bytes,
    find_images,
    read_mask,
    read_photo,
    read_rgb,
    save_image_atomic,
)

DATA = Path(__file__).parents[1] / "data"
CARVANA = DATA / "carvana"
PHOTO = CARVANA / "train" / "00087a6bd4dc_01.jpg"
GIF_MASK = CARVANA / "train_masks" / "00087a6bd4dc_01_mask.gif"
FULLSIZE = DATA / "fullsize" / "0ed6904e1004_05.jpg"


def _pil_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def _gif_mask(path: Path = GIF_MASK) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im) == 1  # palette index 1 = car


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _to_16bit(values: np.ndarray, seed: int = 0) -> np.ndarray:
    """Spread 8-bit values over the 16-bit range with sub-step noise (not a multiple of 257)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-128, 129, size=values.shape)
    return np.clip(values.astype(np.int64) * 257 + noise, 0, 65535).astype(np.uint16)


def _expected_8bit(values16: np.ndarray) -> np.ndarray:
    return np.round(values16.astype(np.float64) / 257.0).astype(np.uint8)


def _add_png_exif_orientation(data: bytes, orientation: int) -> bytes:
    """Insert an eXIf chunk carrying an orientation tag just before IEND."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()[6:]  # drop the b"Exif\0\0" JPEG prefix
    chunk = b"eXIf" + payload
    chunk = struct.pack(">I", len(payload)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + chunk + data[iend:]


# --------------------------------------------------------------------------- read_rgb


def test_image_suffixes() -> None:
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif"} == (
        IMAGE_SUFFIXES
    )


def test_read_rgb_real_photo() -> None:
    rgb = read_rgb(PHOTO)
    assert rgb.shape == (320, 480, 3)
    assert rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, _pil_rgb(PHOTO))


def test_read_rgb_fullsize_photo() -> None:
    rgb = read_rgb(str(FULLSIZE))
    assert rgb.shape == (1280, 1918, 3)
    assert rgb.flags.c_contiguous


@pytest.mark.parametrize(
    ("suffix", "fmt", "kwargs"),
    [
        (".tif", "TIFF", {}),
        (".tiff", "TIFF", {"compression": "tiff_lzw"}),
        (".webp", "WEBP", {"lossless": True}),
        (".bmp", "BMP", {}),
        (".png", "PNG", {}),
    ],
)
def test_read_rgb_lossless_formats(tmp_path: Path, suffix: str, fmt: str, kwargs: dict) -> None:
    rgb = _pil_rgb(PHOTO)
    path = tmp_path / f"car{suffix}"
    Image.fromarray(rgb).save(path, format=fmt, **kwargs)
    np.testing.assert_array_equal(read_rgb(path), rgb)


def test_read_rgb_grey_l(tmp_path: Path) -> None:
    grey = np.array(Image.open(PHOTO).convert("L"))
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    rgb = read_rgb(path)
    assert rgb.shape == (*grey.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[:, :, c], grey)


def test_read_rgb_grey_alpha_la(tmp_path: Path) -> None:
    grey = Image.open(PHOTO).convert("L")
    la = Image.merge("LA", (grey, Image.fromarray((_gif_mask() * 255).astype(np.uint8))))
    path = tmp_path / "grey_alpha.png"
    la.save(path)
    rgb = read_rgb(path)
    np.testing.assert_array_equal(rgb[:, :, 1], np.array(grey))


def test_read_rgb_palette(tmp_path: Path) -> None:
    pal = Image.open(PHOTO).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    path = tmp_path / "palette.png"
    pal.save(path)
    np.testing.assert_array_equal(read_rgb(path), np.array(pal.convert("RGB")))


def test_read_rgb_palette_with_transparency(tmp_path: Path) -> None:
    pal = Image.open(PHOTO).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    path = tmp_path / "palette_transparent.png"
    pal.save(path, transparency=0)
    with Image.open(path) as im:
        assert im.mode == "P" and "transparency" in im.info
    rgb = read_rgb(path)
    assert rgb.shape == (320, 480, 3)
    np.testing.assert_array_equal(rgb, np.array(pal.convert("RGB")))


def test_read_rgb_rgba_drops_alpha_keeps_rgb(tmp_path: Path) -> None:
    rgb = _pil_rgb(PHOTO)
    path = tmp_path / "cutout.png"
    Image.fromarray(cutout_rgba(rgb, _gif_mask())).save(path)
    np.testing.assert_array_equal(read_rgb(path), rgb)  # fully transparent pixels too


def test_read_rgb_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = _pil_rgb(PHOTO)
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
    out = read_rgb(path)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 6


def test_read_rgb_16bit_grey_png_scales_not_clips(tmp_path: Path) -> None:
    g16 = _to_16bit(np.array(Image.open(PHOTO).convert("L")))
    path = tmp_path / "grey16.png"
    Image.fromarray(g16).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    rgb = read_rgb(path)
    expected = _expected_8bit(g16)
    for c in range(3):
        np.testing.assert_array_equal(rgb[:, :, c], expected)
    assert (rgb[:, :, 0] < 255).mean() > 0.9  # clipping would saturate almost everything
    assert len(np.unique(rgb)) > 100


def test_read_rgb_16bit_grey_png_written_by_opencv(tmp_path: Path) -> None:
    g16 = _to_16bit(np.array(Image.open(PHOTO).convert("L")), seed=1)
    path = tmp_path / "grey16_cv.png"
    assert cv2.imwrite(str(path), g16)
    np.testing.assert_array_equal(read_rgb(path)[:, :, 2], _expected_8bit(g16))


def test_read_rgb_16bit_grey_tiff(tmp_path: Path) -> None:
    g16 = _to_16bit(np.array(Image.open(PHOTO).convert("L")), seed=2)
    path = tmp_path / "grey16.tif"
    Image.fromarray(g16).save(path)
    np.testing.assert_array_equal(read_rgb(path)[:, :, 0], _expected_8bit(g16))


def test_read_rgb_32bit_int_grey(tmp_path: Path) -> None:
    g16 = _to_16bit(np.array(Image.open(PHOTO).convert("L")), seed=3)
    path = tmp_path / "grey32.tif"
    Image.fromarray(g16.astype(np.int32)).save(path)
    with Image.open(path) as im:
        assert im.mode == "I"
    np.testing.assert_array_equal(read_rgb(path)[:, :, 0], _expected_8bit(g16))


def test_read_rgb_float_grey(tmp_path: Path) -> None:
    grey = np.array(Image.open(PHOTO).convert("L"))
    path = tmp_path / "float.tif"
    Image.fromarray(grey.astype(np.float32) / 255.0).save(path)
    with Image.open(path) as im:
        assert im.mode == "F"
    np.testing.assert_array_equal(read_rgb(path)[:, :, 0], grey)


def test_read_rgb_16bit_rgb_png_from_opencv(tmp_path: Path) -> None:
    rgb16 = _to_16bit(_pil_rgb(PHOTO), seed=4)
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), rgb16[:, :, ::-1])  # OpenCV writes BGR
    out = read_rgb(path)
    expected = _expected_8bit(rgb16)
    np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, expected[:, :, ::-1])  # channel order really matters here


def test_read_rgb_16bit_rgba_png_from_opencv(tmp_path: Path) -> None:
    rgb16 = _to_16bit(_pil_rgb(PHOTO), seed=5)
    alpha = np.where(_gif_mask(), 65535, 0).astype(np.uint16)
    bgra = np.dstack([rgb16[:, :, ::-1], alpha])
    path = tmp_path / "rgba16.png"
    assert cv2.imwrite(str(path), bgra)
    np.testing.assert_array_equal(read_rgb(path), _expected_8bit(rgb16))


def test_read_rgb_16bit_rgb_png_with_exif_orientation(tmp_path: Path) -> None:
    rgb16 = _to_16bit(_pil_rgb(PHOTO), seed=6)
    ok, buf = cv2.imencode(".png", rgb16[:, :, ::-1])
    assert ok
    path = tmp_path / "rgb16_rotated.png"
    path.write_bytes(_add_png_exif_orientation(buf.tobytes(), 6))
    out = read_rgb(path)
    assert out.shape == (480, 320, 3)
    np.testing.assert_array_equal(out, np.rot90(_expected_8bit(rgb16), k=-1))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_read_rgb_applies_exif_orientation(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"rotated_{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.open(PHOTO).save(path, quality=95, exif=exif)
    with Image.open(path) as im:
        stored = np.array(im.convert("RGB"))
    out = read_rgb(path)
    turns = {3: 2, 6: -1, 8: 1}[orientation]  # 6: rotate 90° clockwise to display upright
    expected = np.rot90(stored, k=turns)
    assert out.shape == expected.shape
    if orientation in (6, 8):
        assert out.shape == (480, 320, 3)
    np.testing.assert_array_equal(out, expected)
    assert out.flags.c_contiguous


# --------------------------------------------------------------------------- read errors


def _assert_read_error(exc: ImageReadError, path: Path, reason: str) -> None:
    assert exc.path == path
    assert exc.reason == reason
    assert path.name in str(exc)
    assert reason in str(exc)
    assert str(exc) == f"{path}: {reason}"


@pytest.mark.parametrize("reader", [read_rgb, read_mask])
def test_read_missing_file(tmp_path: Path, reader) -> None:
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageReadError) as info:
        reader(path)
    _assert_read_error(info.value, path, "file not found")


@pytest.mark.parametrize("reader", [read_rgb, read_mask])
def test_read_zero_byte_file(tmp_path: Path, reader) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError) as info:
        reader(path)
    _assert_read_error(info.value, path, "empty file (0 bytes)")


@pytest.mark.parametrize("reader", [read_rgb, read_mask])
def test_read_text_file_named_jpg(tmp_path: Path, reader) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is a shopping list, not a car photo\n")
    with pytest.raises(ImageReadError) as info:
        reader(path)
    _assert_read_error(info.value, path, "not an image file (or an unsupported format)")


@pytest.mark.parametrize("reader", [read_rgb, read_mask])
def test_read_truncated_jpeg(tmp_path: Path, reader) -> None:
    data = PHOTO.read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as info:
        reader(path)
    _assert_read_error(info.value, path, "truncated or corrupt image data")


def test_read_truncated_png(tmp_path: Path) -> None:
    src = tmp_path / "full.png"
    Image.open(PHOTO).save(src)
    data = src.read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as info:
        read_rgb(path)
    _assert_read_error(info.value, path, "truncated or corrupt image data")


def test_truncated_read_does_not_enable_load_truncated_images(tmp_path: Path) -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("reader", [read_rgb, read_mask])
def test_read_folder_passed_as_file(tmp_path: Path, reader) -> None:
    path = tmp_path / "photos.jpg"
    path.mkdir()
    with pytest.raises(ImageReadError) as info:
        reader(path)
    _assert_read_error(info.value, path, "is a folder, not a file")


def test_read_decompression_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(PHOTO.read_bytes())
    with pytest.raises(ImageReadError) as info:
        read_photo(path, max_megapixels=0.1)  # the photo is 480x320: 0.15 MP
    _assert_read_error(
        info.value,
        path,
        "0.2-megapixel photo: needs about 8 MB of memory, above the 0.1 MP limit "
        "(carmask predict --max-megapixels raises it)",
    )


def test_a_photo_over_the_default_limit_is_refused_before_decoding(tmp_path, recwarn) -> None:
    """A 101-megapixel photo: refused with what it would cost, not a raw Pillow warning."""
    path = tmp_path / "huge.png"
    Image.new("1", (10100, 10000)).save(path)
    with pytest.raises(ImageReadError) as info:
        read_rgb(path)
    assert info.value.reason.startswith("101-megapixel photo: needs about 5.6 GB of memory")
    assert not [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__]
    photo = read_photo(path, max_megapixels=200)  # the user raised the limit
    assert photo.rgb.shape == (10000, 10100, 3) and "5.6 GB" in photo.note


def test_read_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "locked.jpg"
    path.write_bytes(PHOTO.read_bytes())
    path.chmod(0)
    try:
        try:
            path.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("running as root: file permissions do not stop reads")
        with pytest.raises(ImageReadError) as info:
            read_rgb(path)
        _assert_read_error(info.value, path, "permission denied")
    finally:
        path.chmod(0o644)


# --------------------------------------------------------------------------- read_mask


@pytest.mark.parametrize("gif", sorted(CARVANA.glob("*_masks/*_mask.gif")), ids=lambda p: p.name)
def test_read_mask_carvana_gif(gif: Path) -> None:
    mask = read_mask(gif)
    assert mask.dtype == np.bool_
    assert mask.shape == (320, 480)
    assert 0.1 < mask.mean() < 0.9
    np.testing.assert_array_equal(mask, _gif_mask(gif))


def test_read_mask_transparent_cutout_png(tmp_path: Path) -> None:
    mask = _gif_mask()
    path = tmp_path / "cutout.png"
    Image.fromarray(cutout_rgba(_pil_rgb(PHOTO), mask)).save(path)
    np.testing.assert_array_equal(read_mask(path), mask)


def test_read_mask_grey_alpha_la(tmp_path: Path) -> None:
    mask = _gif_mask()
    grey = Image.open(PHOTO).convert("L")
    path = tmp_path / "cutout_la.png"
    Image.merge("LA", (grey, Image.fromarray(mask.astype(np.uint8) * 255))).save(path)
    np.testing.assert_array_equal(read_mask(path), mask)


def test_read_mask_palette_with_transparency(tmp_path: Path) -> None:
    mask = _gif_mask()
    index = np.where(mask, 1, 0).astype(np.uint8)
    pal = Image.frombytes("P", (index.shape[1], index.shape[0]), index.tobytes())
    pal.putpalette([0, 0, 0, 200, 30, 30])  # car drawn dark red: grey < 127
    path = tmp_path / "transparent.gif"
    pal.save(path, transparency=0)
    np.testing.assert_array_equal(read_mask(path), mask)


def test_read_mask_opaque_rgba_uses_grey(tmp_path: Path) -> None:
    mask = _gif_mask()
    grey = np.where(mask, 255, 0).astype(np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    path = tmp_path / "opaque.png"
    Image.fromarray(rgba).save(path)
    np.testing.assert_array_equal(read_mask(path), mask)


def test_read_mask_grey_threshold(tmp_path: Path) -> None:
    grey = np.array(Image.open(PHOTO).convert("L"))
    path = tmp_path / "soft.png"
    Image.fromarray(grey).save(path)
    np.testing.assert_array_equal(read_mask(path), grey > 127)


def test_read_mask_16bit_grey(tmp_path: Path) -> None:
    g16 = _to_16bit(np.where(_gif_mask(), 200, 20).astype(np.uint8))
    path = tmp_path / "mask16.png"
    Image.fromarray(g16).save(path)
    np.testing.assert_array_equal(read_mask(path), _gif_mask())


def test_read_mask_exif_orientation(tmp_path: Path) -> None:
    mask = _gif_mask()
    path = tmp_path / "mask_rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(mask.astype(np.uint8) * 255).save(path, quality=100, exif=exif)
    out = read_mask(path)
    assert out.shape == (480, 320)
    assert (out != np.rot90(mask, k=-1)).mean() < 0.001  # JPEG ringing at the edges only


# --------------------------------------------------------------------------- find_images


def _touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_find_images_nested_hidden_duplicates_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "shoot"
    photo = PHOTO.read_bytes()
    a = _touch(root / "a.jpg", photo)
    b = _touch(root / "sub" / "B.PNG", photo)
    c = _touch(root / "sub" / "deeper" / "c.tif", photo)
    e = _touch(root / "sub" / "e.jpeg", photo)
    z = _touch(root / "z.webp", photo)
    _touch(root / ".hidden.jpg", photo)
    _touch(root / ".cache" / "thumb.jpg", photo)
    _touch(root / "sub" / ".thumbs" / "x.png", photo)
    _touch(root / "readme.txt", b"notes")
    _touch(root / "sub" / "raw.cr2", b"raw")
    notes = _touch(tmp_path / "notes.txt", b"notes")
    missing = tmp_path / "missing.jpg"

    images, skipped = find_images([z, root, a, str(notes), missing, root / "sub" / ".." / "a.jpg"])

    assert images == [p.resolve() for p in (z, a, b, c, e)]
    assert skipped == [  # hidden folders are not searched; every other file is accounted for
        (root / ".hidden.jpg", "hidden file"),
        (root / "readme.txt", "not a supported image type (.txt)"),
        (root / "sub" / "raw.cr2", "not a supported image type (.cr2)"),
        (notes, "not a supported image type (.txt)"),
        (missing, "not found"),
    ]


def test_find_images_not_recursive(tmp_path: Path) -> None:
    a = _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "sub" / "b.jpg")
    images, skipped = find_images([tmp_path], recursive=False)
    assert images == [a.resolve()]
    assert skipped == []


def test_find_images_real_data() -> None:
    images, skipped = find_images([CARVANA / "train", CARVANA / "val"])
    assert skipped == []
    expected = sorted((CARVANA / "train").glob("*.jpg")) + sorted((CARVANA / "val").glob("*.jpg"))
    assert images == [p.resolve() for p in expected]
    assert all(p.is_absolute() for p in images)


def test_find_images_explicit_hidden_file_is_used(tmp_path: Path) -> None:
    hidden = _touch(tmp_path / ".car.jpg")
    images, skipped = find_images([hidden])
    assert images == [hidden.resolve()] and skipped == []


def test_find_images_file_without_extension(tmp_path: Path) -> None:
    f = _touch(tmp_path / "README")
    assert find_images([f]) == ([], [(f, "not a supported image type (no extension)")])


# --------------------------------------------------------------------------- writing


def test_atomic_write_bytes_creates_file_with_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    assert atomic_write_bytes(path, b"hello") == path
    assert path.read_bytes() == b"hello"
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(tmp_path.iterdir()) == [path]


def test_atomic_write_replaces_existing_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert _temp_files(tmp_path) == []


def test_atomic_write_failure_in_callback_keeps_destination(tmp_path: Path) -> None:
    path = tmp_path / "car.png"
    original = PHOTO.read_bytes()
    path.write_bytes(original)

    def write(f) -> None:
        f.write(b"partial data")
        raise RuntimeError("encoder exploded")

    with pytest.raises(OutputWriteError) as info:
        atomic_write(path, write)
    assert info.value.path == path
    assert "car.png" in str(info.value) and "encoder exploded" in str(info.value)
    assert path.read_bytes() == original
    assert _temp_files(tmp_path) == []
    assert sorted(tmp_path.iterdir()) == [path]


def test_atomic_write_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no_such_folder" / "car.png"
    with pytest.raises(OutputWriteError) as info:
        atomic_write_bytes(path, b"x")
    assert info.value.reason == "folder does not exist"
    assert str(info.value) == f"{path}: folder does not exist"
    assert list(tmp_path.iterdir()) == []  # creates nothing


def test_atomic_write_parent_is_a_file(tmp_path: Path) -> None:
    blocker = _touch(tmp_path / "blocker")
    path = blocker / "car.png"
    with pytest.raises(OutputWriteError) as info:
        atomic_write_bytes(path, b"x")
    assert "car.png" in str(info.value)
    assert info.value.reason == "part of the folder path is a file, not a folder"


def test_atomic_write_onto_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "car.png"
    path.mkdir()
    with pytest.raises(OutputWriteError) as info:
        atomic_write_bytes(path, b"x")
    assert info.value.reason == "is a folder, not a file"
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_save_image_atomic_roundtrip(tmp_path: Path, channels: int | None) -> None:
    rgb = _pil_rgb(PHOTO)
    if channels is None:
        image = rgb[:, :, 0].copy()
    elif channels == 3:
        image = rgb
    else:
        image = cutout_rgba(rgb, _gif_mask())
    path = save_image_atomic(tmp_path / "x.png", image, "PNG")
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.array(im), image)
    assert _temp_files(tmp_path) == []


def test_save_image_atomic_bool_mask(tmp_path: Path) -> None:
    path = save_image_atomic(tmp_path / "m.png", _gif_mask(), "PNG")
    with Image.open(path) as im:
        assert set(np.unique(np.array(im))) == {0, 255}


def test_save_image_atomic_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        save_image_atomic(tmp_path / "x.png", np.zeros((4, 4), np.float32), "PNG")
    with pytest.raises(ValueError, match="shape"):
        save_image_atomic(tmp_path / "x.png", np.zeros((4, 4, 2), np.uint8), "PNG")
    assert list(tmp_path.iterdir()) == []


def test_save_image_atomic_encoder_error_is_output_error(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    rgba = cutout_rgba(_pil_rgb(PHOTO), _gif_mask())
    with pytest.raises(OutputWriteError) as info:
        save_image_atomic(path, rgba, "JPEG")  # JPEG has no alpha
    assert info.value.path == path
    assert list(tmp_path.iterdir()) == []
