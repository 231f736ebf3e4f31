"""Reading photos and masks, finding image files, and writing outputs atomically.

Pure Pillow/numpy (OpenCV only for 16-bit colour PNGs); never imports Qt.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "OutputWriteError",
    "atomic_write",
    "atomic_write_bytes",
    "find_images",
    "os_error_reason",
    "read_mask",
    "read_rgb",
    "save_image_atomic",
]

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
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


class ImageReadError(Exception):
    """A photo or mask could not be read. ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputWriteError(Exception):
    """An output file could not be written. ``str(e) == f"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def os_error_reason(exc: OSError) -> str:
    """A short, human reason for an OS-level error (no path, no errno number)."""
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENOENT: "folder does not exist",
        errno.ENOTDIR: "part of the folder path is a file, not a folder",
        errno.EISDIR: "is a folder, not a file",
        errno.EEXIST: "a file is in the way of the folder",
        errno.ENAMETOOLONG: "file name too long",
    }
    if exc.errno in reasons:
        return reasons[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- reading


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


def _decode(path: Path, data: bytes) -> Image.Image:
    """Open and fully decode ``data`` with Pillow (truncated files are errors)."""
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, "image too large") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image file (or an unsupported format)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, "truncated or corrupt image data") from exc
    try:
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, "image too large") from exc
    except MemoryError as exc:
        raise ImageReadError(path, "image too large") from exc
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


def _decode_16bit_colour_png(path: Path, data: bytes) -> np.ndarray:
    """Decode a 16-bit RGB(A) PNG with OpenCV, returning 8-bit RGB (alpha dropped)."""
    import cv2  # local: only needed for this rare format

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageReadError(path, "truncated or corrupt image data")
    rgb = arr[:, :, 2::-1]  # BGR(A) -> RGB
    return _scale16(rgb) if arr.dtype == np.uint16 else rgb.astype(np.uint8)


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


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a photo as an HxWx3 uint8 C-contiguous RGB array, EXIF orientation applied.

    Raises ImageReadError with a human reason if the file cannot be read.
    """
    path = Path(path)
    data = _read_bytes(path)
    img = _decode(path, data)
    if _is_16bit_colour_png(data):
        orientation = _orientation(img)
        arr = _decode_16bit_colour_png(path, data)
        if orientation in _ORIENTATION_TRANSPOSE:
            oriented = Image.fromarray(np.ascontiguousarray(arr))
            arr = np.asarray(oriented.transpose(_ORIENTATION_TRANSPOSE[orientation]))
    else:
        arr = _to_rgb_array(path, _exif_transpose(img))
    return np.ascontiguousarray(arr, dtype=np.uint8)


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


# --------------------------------------------------------------------------- finding


def _is_image_name(name: str, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in suffixes


def _images_in_folder(folder: Path, recursive: bool, suffixes: frozenset[str]) -> list[Path]:
    """Files with these suffixes under ``folder``, hidden files/folders skipped, sorted by path."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        found.extend(Path(root, f) for f in files if _is_image_name(f, suffixes))
    found = [f for f in found if f.is_file()]
    return sorted(found, key=lambda p: (str(p.relative_to(folder)).lower(), str(p)))


def find_images(
    inputs: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into image paths (files with these suffixes).

    Returns ``(images, skipped)``: unique resolved image paths in input order (folder contents
    sorted by path), and ``(path, reason)`` for every explicit input that was not used.
    """
    images: list[Path] = []
    seen: set[Path] = set()
    skipped: list[tuple[Path, str]] = []

    def add(p: Path) -> None:
        resolved = p.resolve()
        if resolved not in seen:
            seen.add(resolved)
            images.append(resolved)

    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            for f in _images_in_folder(p, recursive, suffixes):
                add(f)
        elif p.is_file():
            if p.suffix.lower() in suffixes:
                add(p)
            else:
                skipped.append((p, f"not a supported image type ({p.suffix or 'no extension'})"))
        elif p.exists():
            skipped.append((p, "not a regular file"))
        else:
            skipped.append((p, "not found"))
    return images, skipped


# --------------------------------------------------------------------------- writing


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask() is process-wide and not thread-safe


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Write a file via a temp file in the same folder, fsync, then ``os.replace`` onto ``path``.

    On any error the temp file is removed, an existing ``path`` is left untouched, and
    OutputWriteError(path, reason) is raised. Creates no folders. Returns the final path.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed explicitly below
            dir=path.parent, delete=False, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise OutputWriteError(path, os_error_reason(exc)) from exc
    tmp_path = Path(tmp.name)
    try:
        with tmp:
            write(tmp)  # type: ignore[arg-type]
            tmp.flush()
            os.fsync(tmp.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(tmp.fileno(), mode)
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputWriteError(path, os_error_reason(exc)) from exc
        if isinstance(exc, Exception):
            raise OutputWriteError(path, str(exc) or type(exc).__name__) from exc
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (see atomic_write)."""
    return atomic_write(path, lambda f: f.write(data))


def save_image_atomic(
    path: str | os.PathLike[str], image: np.ndarray, format: str, **save_kwargs: object
) -> Path:
    """Save an HxW (L), HxWx3 (RGB) or HxWx4 (RGBA) uint8 array atomically with Pillow.

    Bool HxW arrays are saved as 0/255. Raises ValueError for other shapes/dtypes and
    OutputWriteError if the file cannot be written.
    """
    arr = np.asarray(image)
    if arr.dtype == np.bool_ and arr.ndim == 2:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    pil = Image.fromarray(np.ascontiguousarray(arr))
    return atomic_write(path, lambda f: pil.save(f, format=format, **save_kwargs))
