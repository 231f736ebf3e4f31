"""Reading photos (RGB, their alpha, notes) and masks: Pillow/numpy, OpenCV for 16-bit PNGs."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.io.errors import ImageReadError

try:  # HEIC/HEIF: what iPhones shoot
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUFFIXES: frozenset[str] = frozenset({".heic", ".heif"})
except ImportError:  # pragma: no cover - pillow-heif is a dependency; a trimmed install may lack it
    HEIF_SUFFIXES = frozenset()

IMAGE_SUFFIXES: frozenset[str] = (
    frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}) | HEIF_SUFFIXES
)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_INT16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def _read_bytes(path: Path) -> bytes:
    """Read the whole file, turning OS errors into ImageReadError."""
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageReadError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(path, "is a folder, not a file") from exc
    except PermissionError as exc:
        raise ImageReadError(path, "permission denied") from exc
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from exc
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


DEFAULT_MAX_MEGAPIXELS = 100.0
_BYTES_PER_PIXEL = 55  # peak memory of a cut-out per photo pixel (decode, resize, masks, encode)
_NOTE_MEGAPIXELS = 50.0

# Pillow's own decompression-bomb guard warns (raw) at 89 MP and refuses at 179 MP; every decode
# here goes through _decode, which applies the user's limit and says what a photo costs instead.
Image.MAX_IMAGE_PIXELS = None


def memory_note(width: int, height: int) -> str:
    mp = width * height / 1e6
    mb = mp * _BYTES_PER_PIXEL
    cost = f"{mb / 1e3:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB"
    return f"{mp:.{0 if mp >= 10 else 1}f}-megapixel photo: needs about {cost} of memory"


def too_large_reason(width: int, height: int, max_megapixels: float) -> str:
    return (
        f"{memory_note(width, height)}, above the {max_megapixels:g} MP limit "
        "(carmask predict --max-megapixels raises it)"
    )


def _decode(path: Path, data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """Open and fully decode ``data`` with Pillow (truncated files are errors); photos over
    ``max_megapixels`` are refused before they are decoded."""
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image file (or an unsupported format)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, "truncated or corrupt image data") from exc
    w, h = img.size
    if w * h > max_megapixels * 1e6:
        raise ImageReadError(path, too_large_reason(w, h, max_megapixels))
    try:
        img.load()
    except MemoryError as exc:
        raise ImageReadError(path, f"not enough memory: {memory_note(w, h)}") from exc
    except Exception as exc:  # decoders raise many exception types on bad data
        raise ImageReadError(path, "truncated or corrupt image data") from exc
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not make the photo unreadable
        return 1


def _exif_transpose(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # as above: fall back to the stored orientation
        return img


def _scale16(values: np.ndarray) -> np.ndarray:
    """Scale 0..65535 to 0..255 by value range (round(v / 257)), no clipping."""
    v = values.astype(np.uint32)
    return ((v + 128) // 257).astype(np.uint8)


def _grey_to_uint8(img: Image.Image) -> np.ndarray | None:
    """HxW uint8 for high-bit-depth grey modes (I;16*, I, F); None for other modes."""
    if img.mode in _INT16_MODES:
        return _scale16(np.asarray(img))
    if img.mode == "I":
        # Pillow also uses "I" for 16-bit sources: treat values in 0..65535 as 16-bit.
        v = np.asarray(img).astype(np.int64)
        if v.size == 0 or (v.min() >= 0 and v.max() <= 0xFFFF):
            return _scale16(v)
        v = np.clip(v, 0, 2**31 - 1)
        return np.round(v * (255.0 / (2**31 - 1))).astype(np.uint8)
    if img.mode == "F":
        # Floats in 0..1 are normalised intensities; otherwise assume a 0..255 scale.
        f = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if f.size and f.max() <= 1.0:
            f = f * 255.0
        return np.round(np.clip(f, 0.0, 255.0)).astype(np.uint8)
    return None


def _is_16bit_colour_png(data: bytes) -> bool:
    """True for PNGs whose IHDR says 16 bits per sample, RGB or RGBA."""
    return data[:8] == _PNG_SIGNATURE and len(data) > 25 and data[24] == 16 and data[25] in (2, 6)


def _decode_16bit_colour_png(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a 16-bit RGB(A) PNG with OpenCV: 8-bit RGB, and 8-bit alpha (None if opaque)."""
    import cv2  # local: only needed for this rare format

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageReadError(path, "truncated or corrupt image data")
    to8 = _scale16 if arr.dtype == np.uint16 else (lambda a: a.astype(np.uint8))
    alpha = to8(arr[:, :, 3]) if arr.shape[2] == 4 else None
    if alpha is not None and alpha.min() == 255:
        alpha = None
    return to8(arr[:, :, 2::-1]), alpha  # BGR(A) -> RGB


def _alpha_of(img: Image.Image) -> np.ndarray | None:
    """The image's own transparency as HxW uint8, or None if it has none (or is all opaque)."""
    if not (img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)):
        return None
    try:
        alpha = np.asarray(img.getchannel("A") if "A" in img.getbands() else img.convert("RGBA"))
    except (ValueError, OSError):
        return None
    alpha = alpha[:, :, 3] if alpha.ndim == 3 else alpha
    return None if alpha.min() == 255 else np.ascontiguousarray(alpha, dtype=np.uint8)


def _to_rgb_array(path: Path, img: Image.Image) -> np.ndarray:
    grey = _grey_to_uint8(img)
    if grey is not None:
        return np.repeat(grey[:, :, None], 3, axis=2)
    try:
        if img.mode == "RGB":
            rgb = img
        elif img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
            rgb = img.convert("RGBA").convert("RGB")
        else:
            rgb = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageReadError(path, f"unsupported colour mode ({img.mode})") from exc
    return np.array(rgb, dtype=np.uint8)


@dataclass(frozen=True)
class Photo:
    """A decoded photo: RGB, its own transparency (None when opaque), and what a person should
    know about how it was read (e.g. "page 1 of 3 used")."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    note: str = ""
    icc: bytes | None = None  # its colour profile (Adobe RGB, Display P3...), read in the decode


def read_photo(
    path: str | os.PathLike[str], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> Photo:
    """Read a photo: HxWx3 uint8 RGB with the EXIF orientation applied, plus its alpha channel
    (a cutout stays inside what was transparent in the photo) and a note for multi-page files
    (TIFF, HEIC: the first page is used) or very large photos. Raises ImageReadError with a
    human reason; photos over ``max_megapixels`` are refused before they are decoded."""
    path = Path(path)
    return decode_photo(path, photo_bytes(path), max_megapixels)


def photo_bytes(path: str | os.PathLike[str]) -> bytes:
    """A photo file's bytes (read once: a batch takes their digest and decodes them); OS errors
    as ImageReadError."""
    return _read_bytes(Path(path))


def decode_photo(
    path: str | os.PathLike[str], data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> Photo:
    """`read_photo` on bytes already read from `path` (named in the errors)."""
    path = Path(path)
    img = _decode(path, data, max_megapixels)
    icc = img.info.get("icc_profile") or None
    pages = int(getattr(img, "n_frames", 1) or 1)
    notes = [f"{pages} pages (images) in the file; page 1 used"] if pages > 1 else []
    if img.size[0] * img.size[1] > _NOTE_MEGAPIXELS * 1e6:
        notes.append(memory_note(*img.size))
    note = "; ".join(notes)
    if _is_16bit_colour_png(data):
        orientation = _orientation(img)
        arr, alpha = _decode_16bit_colour_png(path, data)
        if orientation in _ORIENTATION_TRANSPOSE:
            turn = _ORIENTATION_TRANSPOSE[orientation]
            arr = np.asarray(Image.fromarray(np.ascontiguousarray(arr)).transpose(turn))
            if alpha is not None:
                alpha = np.asarray(Image.fromarray(alpha).transpose(turn))
    else:
        img = _exif_transpose(img)
        arr, alpha = _to_rgb_array(path, img), _alpha_of(img)
    rgb = np.ascontiguousarray(arr, dtype=np.uint8)
    alpha = None if alpha is None else np.ascontiguousarray(alpha)
    return Photo(rgb, alpha, note, bytes(icc) if icc else None)


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a photo as an HxWx3 uint8 C-contiguous RGB array, EXIF orientation applied.

    Raises ImageReadError with a human reason if the file cannot be read.
    """
    return read_photo(path).rgb


def read_icc_profile(path: str | os.PathLike[str]) -> bytes | None:
    """The ICC colour profile embedded in a photo (Adobe RGB, Display P3, ...), or None.

    Only the file's header is parsed. Exports carry the profile over, so a cutout shows the same
    colours as its original in colour-managed software.
    """
    try:
        with Image.open(path) as img:
            icc = img.info.get("icc_profile")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return bytes(icc) if icc else None


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ground-truth mask as an HxW bool array, EXIF orientation applied.

    If the image has a non-opaque alpha channel the label is ``alpha > 127`` (a transparent
    cutout); otherwise it is ``grey > 127`` (palettes are applied first).
    """
    path = Path(path)
    img = _exif_transpose(_decode(path, _read_bytes(path)))
    try:
        if img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
            alpha = np.asarray(img.convert("RGBA"))[:, :, 3]
            if alpha.min() < 255:
                return np.ascontiguousarray(alpha > 127)
        grey = _grey_to_uint8(img)
        if grey is None:
            base = img.convert("RGBA") if img.mode == "P" else img
            grey = np.asarray(base.convert("L"))
    except (ValueError, OSError) as exc:
        raise ImageReadError(path, f"unsupported colour mode ({img.mode})") from exc
    return np.ascontiguousarray(grey > 127)
