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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "OutputWriteError",
    "Photo",
    "atomic_write",
    "atomic_write_bytes",
    "find_images",
    "image_writer",
    "os_error_reason",
    "read_mask",
    "read_photo",
    "read_rgb",
    "remove_stale_temp_files",
    "save_image_atomic",
    "too_large_reason",
]

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


def read_photo(
    path: str | os.PathLike[str], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> Photo:
    """Read a photo: HxWx3 uint8 RGB with the EXIF orientation applied, plus its alpha channel
    (a cutout stays inside what was transparent in the photo) and a note for multi-page files
    (TIFF, HEIC: the first page is used) or very large photos. Raises ImageReadError with a
    human reason; photos over ``max_megapixels`` are refused before they are decoded."""
    path = Path(path)
    data = _read_bytes(path)
    img = _decode(path, data, max_megapixels)
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
    return Photo(rgb, None if alpha is None else np.ascontiguousarray(alpha), note)


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


# --------------------------------------------------------------------------- finding


_OWN_PREFIXES = (".cm-", ".carmask")  # this tool's temp files and output records: not photos


def _unused_reason(path: Path) -> str | None:
    """Why a file found in a folder is not a photo to use, or None if it is a regular file."""
    if path.is_symlink():
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop"
            return "broken symbolic link (its target is missing)"
    if not path.exists():
        return "vanished while the folder was read"
    if not path.is_file():
        return "not a regular file (a pipe, socket or device)"
    return None


def _suffix_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".heic", ".heif"):
        return "HEIC photo, but pillow-heif is not installed (pip install pillow-heif)"
    if suffix == ".gif":
        return "GIF is not read as a photo (masks and animations use it)"
    return f"not a supported image type ({path.suffix or 'no extension'})"


def _images_in_folder(
    folder: Path, recursive: bool, suffixes: frozenset[str]
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files with these suffixes under ``folder`` sorted by path, and every other file there
    with the reason it is not used (hidden folders are not searched)."""
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        for name in files:
            path = Path(root, name)
            if name.startswith(_OWN_PREFIXES):
                continue
            if name.startswith("."):
                skipped.append((path, "hidden file"))
            elif Path(name).suffix.lower() not in suffixes:
                skipped.append((path, _suffix_reason(path)))
            elif (reason := _unused_reason(path)) is not None:
                skipped.append((path, reason))
            else:
                found.append(path)

    def order(p: tuple | Path):
        p = p[0] if isinstance(p, tuple) else p
        return str(p.relative_to(folder)).lower(), str(p)

    return sorted(found, key=order), sorted(skipped, key=order)


def find_images(
    inputs: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    suffixes: frozenset[str] | None = None,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders into image paths (files with these suffixes).

    Returns ``(images, skipped)``: unique absolute image paths in input order (folder contents
    sorted by path), spelt as the user gave them (a link keeps its own name), and
    ``(path, reason)`` for every file given or found that is not used.
    """
    suffixes = IMAGE_SUFFIXES if suffixes is None else suffixes
    images: list[Path] = []
    seen: dict[Path, Path] = {}
    skipped: list[tuple[Path, str]] = []

    def add(p: Path) -> None:
        resolved = p.resolve()
        if resolved not in seen:
            seen[resolved] = p
            images.append(p)
        elif seen[resolved] != p:  # a link to, or another spelling of, a photo already listed
            skipped.append((p, f"the same file as {seen[resolved]}"))

    for item in inputs:
        p = Path(os.path.abspath(Path(item).expanduser()))
        if p.is_dir():
            found, unused = _images_in_folder(p, recursive, suffixes)
            for f in found:
                add(f)
            skipped += unused
        elif p.is_file():
            if p.suffix.lower() in suffixes:
                add(p)
            else:
                skipped.append((p, _suffix_reason(p)))
        elif os.path.lexists(p):
            skipped.append((p, _unused_reason(p) or "not a regular file"))
        else:
            skipped.append((p, "not found"))
    return images, skipped


# --------------------------------------------------------------------------- writing


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask() is process-wide and not thread-safe


TEMP_PREFIX = ".cm-"  # CarMask's temp files: .cm-<pid>-<random>.tmp (short: long names fit)
_STALE_AFTER_S = 3600.0


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> int:
    """Remove CarMask temp files in ``folder`` left by a run that was killed (its process is
    gone, or the file is over an hour old). Returns how many were removed."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for e in entries:
        if not (e.name.startswith(TEMP_PREFIX) and e.name.endswith(".tmp")):
            continue
        try:
            pid = int(e.name[len(TEMP_PREFIX) :].split("-", 1)[0])
            old = now - e.stat(follow_symlinks=False).st_mtime > _STALE_AFTER_S
        except (ValueError, OSError):
            continue
        if old or not _process_alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(e.path)
                removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (PermissionError), or no way to ask (Windows)
        return True
    return True


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    before_replace: Callable[[Path], None] | None = None,
) -> Path:
    """Write a file via a temp file in the same folder, fsync, then ``os.replace`` onto ``path``.

    On any error the temp file is removed, an existing ``path`` is left untouched, and
    OutputWriteError(path, reason) is raised. Creates no folders. ``before_replace(tmp)`` is
    called with the complete temp file just before the rename. Returns the final path.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed explicitly below
            dir=path.parent, delete=False, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp"
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
        if before_replace is not None:
            before_replace(tmp_path)
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OutputWriteError):
            raise
        if isinstance(exc, OSError):
            raise OutputWriteError(path, os_error_reason(exc)) from exc
        if isinstance(exc, Exception):
            raise OutputWriteError(path, str(exc) or type(exc).__name__) from exc
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path`` (see atomic_write)."""
    return atomic_write(path, lambda f: f.write(data))


def image_writer(
    image: np.ndarray, format: str, **save_kwargs: object
) -> Callable[[BinaryIO], None]:
    """A function that saves an HxW (L), HxWx3 (RGB) or HxWx4 (RGBA) uint8 array with Pillow
    into an open file (for `atomic_write`). Bool HxW arrays are saved as 0/255; other shapes or
    dtypes raise ValueError here, before any file is opened."""
    arr = np.asarray(image)
    if arr.dtype == np.bool_ and arr.ndim == 2:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    pil = Image.fromarray(np.ascontiguousarray(arr))
    return lambda f: pil.save(f, format=format, **save_kwargs)


def save_image_atomic(
    path: str | os.PathLike[str], image: np.ndarray, format: str, **save_kwargs: object
) -> Path:
    """Save an image array atomically with Pillow (see `image_writer`). Raises ValueError for
    bad arrays and OutputWriteError if the file cannot be written."""
    return atomic_write(path, image_writer(image, format, **save_kwargs))
