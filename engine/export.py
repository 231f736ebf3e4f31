"""Export a photo + mask as a transparent cutout PNG, a mask PNG, or a JPEG on a solid colour."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io import OutputWriteError, os_error_reason, read_icc_profile, save_image_atomic

__all__ = [
    "EXPORT_FORMATS",
    "ExportOptions",
    "composite_on",
    "cutout_rgba",
    "export_photo",
    "output_paths",
    "output_stems",
]

EXPORT_FORMATS: tuple[str, ...] = ("png", "mask", "jpg")
_NAME_PATTERNS = {"png": "{stem}.png", "mask": "{stem}_mask.png", "jpg": "{stem}.jpg"}


@dataclass(frozen=True)
class ExportOptions:
    """What to write for each photo."""

    formats: tuple[str, ...] = ("png",)
    background: tuple[int, int, int] = (255, 255, 255)
    jpeg_quality: int = 95
    # zlib level of the PNGs. 1 writes a 1918×1280 cutout about 2× faster than Pillow's
    # default 6 for a file about 20% larger (benchmarks/speed.py --cutout).
    png_compress_level: int = 1


def output_stems(
    items: Iterable[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
) -> dict[Path, str]:
    """Output name stem per input for a batch of (input, out_dir): the input's own stem, except
    where two inputs would write the same files (``a/x.jpg`` and ``a/x.png``, or ``x.jpg`` from
    two folders into one output folder): the later one gets its extension added (``x_png``),
    then a number, so no export overwrites another."""
    taken: set[tuple[str, str]] = set()
    stems: dict[Path, str] = {}
    for inp, out_dir in items:
        inp = Path(inp)
        folder = str(Path(out_dir).resolve()).lower()
        stem = inp.stem
        if (folder, stem.lower()) in taken:
            stem = f"{inp.stem}_{inp.suffix.lstrip('.').lower() or 'photo'}"
            n = 2
            while (folder, stem.lower()) in taken:
                stem, n = f"{inp.stem}_{n}", n + 1
        taken.add((folder, stem.lower()))
        stems[inp] = stem
    return stems


def output_paths(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    formats: Iterable[str],
    stem: str | None = None,
) -> dict[str, Path]:
    """Output file per format, named after the input (``car.jpg`` -> ``car.png``, ...) or `stem`."""
    stem = stem or Path(input_path).stem
    paths: dict[str, Path] = {}
    for fmt in formats:
        key = fmt.lower()
        if key not in _NAME_PATTERNS:
            raise ValueError(
                f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}"
            )
        paths[key] = Path(out_dir) / _NAME_PATTERNS[key].format(stem=stem)
    return paths


def _check_pair(rgb: np.ndarray, mask: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image size {rgb.shape[:2]}")


def alpha_u8(mask: np.ndarray) -> np.ndarray:
    """Mask as uint8 alpha: bool -> 0/255, uint8 as is, floats in 0..1 -> 0..255."""
    if mask.dtype == np.bool_:
        return mask.astype(np.uint8) * 255
    if mask.dtype == np.uint8:
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return np.round(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(f"mask must be bool, uint8 or float, got {mask.dtype}")


def cutout_rgba(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """HxWx4 uint8: RGB copied bit-exactly, alpha from the mask."""
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    _check_pair(rgb, mask)
    out = np.empty((*rgb.shape[:2], 4), dtype=np.uint8)
    out[:, :, :3] = rgb
    out[:, :, 3] = alpha_u8(mask)
    return out


def composite_on(
    rgb: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] | Iterable[int]
) -> np.ndarray:
    """HxWx3 uint8: the photo where the mask is set, ``color`` elsewhere (soft masks blend)."""
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    _check_pair(rgb, mask)
    bg = np.asarray(tuple(color), dtype=np.uint8)
    if bg.shape != (3,):
        raise ValueError(f"color must be three 0-255 values, got {color!r}")
    if mask.dtype == np.bool_:
        return np.where(mask[:, :, None], rgb, bg).astype(np.uint8)
    a = alpha_u8(mask).astype(np.uint32)[:, :, None]
    blended = (rgb.astype(np.uint32) * a + bg.astype(np.uint32) * (255 - a) + 127) // 255
    return blended.astype(np.uint8)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def export_photo(
    rgb: np.ndarray,
    mask: np.ndarray,
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: ExportOptions = ExportOptions(),
    stem: str | None = None,
) -> list[Path]:
    """Write the requested formats for one photo into ``out_dir``; return the written paths.
    Files are named after the input, or `stem` (see `output_stems` for a batch).

    Never overwrites ``input_path``. Raises OutputWriteError (naming the output file) on any
    write failure, ValueError for an unknown format or mismatched arrays.
    """
    input_path, out_dir = Path(input_path), Path(out_dir)
    paths = output_paths(input_path, out_dir, options.formats, stem)
    if not paths:
        return []
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    _check_pair(rgb, mask)

    source = input_path.resolve()
    for path in paths.values():
        if path.resolve() == source or _same_file(path, input_path):
            raise OutputWriteError(
                path, "would overwrite the original photo; choose another output folder"
            )

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        first = next(iter(paths.values()))
        raise OutputWriteError(first, f"output folder {out_dir} is a file, not a folder") from exc
    except OSError as exc:
        reason = f"cannot create output folder {out_dir}: {os_error_reason(exc)}"
        raise OutputWriteError(next(iter(paths.values())), reason) from exc

    level = options.png_compress_level
    # the photo's colours mean what its profile says: cutout and composite keep it (not the mask)
    icc = read_icc_profile(input_path) if set(paths) - {"mask"} else None
    colour = {"icc_profile": icc} if icc else {}
    written: list[Path] = []
    for fmt, path in paths.items():
        if fmt == "png":
            save_image_atomic(path, cutout_rgba(rgb, mask), "PNG", compress_level=level, **colour)
        elif fmt == "mask":
            save_image_atomic(path, alpha_u8(mask), "PNG", compress_level=level)
        else:
            image = composite_on(rgb, mask, options.background)
            save_image_atomic(
                path, image, "JPEG", quality=options.jpeg_quality, subsampling=0, **colour
            )
        written.append(path)
    return written
