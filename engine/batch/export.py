"""Export a photo + mask as a transparent cutout PNG, a mask PNG, or a JPEG on a solid colour.

The cutout PNG is `engine.matte.alpha.clean_cutout`'s: a soft edge, decontaminated edge
colours, RGB = 0 where alpha = 0 (`cutout_rgba` keeps the photo's pixels as they are); the JPEG
is that cutout on the colour."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.batch.outputs import NAME_PATTERNS, OutputPlan
from engine.io import image_writer, read_icc_profile
from engine.matte import alpha_u8

__all__ = [
    "EXPORT_FORMATS",
    "ExportOptions",
    "alpha_u8",
    "composite_on",
    "cutout_rgba",
    "export_photo",
    "output_paths",
]

FROM_FILE = object()  # export_photo's `icc` when not given: the profile read from the photo's file

# what one photo's export writes; "listing" needs the car's other angles too (engine.listing)
EXPORT_FORMATS: tuple[str, ...] = tuple(f for f in NAME_PATTERNS if f != "listing")


@dataclass(frozen=True)
class ExportOptions:
    """What to write for each photo."""

    formats: tuple[str, ...] = ("png",)
    background: tuple[int, int, int] = (255, 255, 255)
    jpeg_quality: int = 95
    # zlib level of the PNGs. 1 writes a 1918×1280 cutout about 2× faster than Pillow's
    # default 6 for a file about 20% larger (benchmarks/speed.py --cutout).
    png_compress_level: int = 1


def output_paths(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    formats: Iterable[str],
    stem: str | None = None,
) -> dict[str, Path]:
    """Output file per format, named after the input (``car.jpg`` -> ``car.png``, ...) or `stem`,
    before any clash is looked at (`OutputPlan.assign` picks the names actually written)."""
    stem = stem or Path(input_path).stem
    formats = OutputPlan(formats).formats  # checks them
    return {f: Path(out_dir) / NAME_PATTERNS[f].format(stem=stem) for f in formats}


def _check_pair(rgb: np.ndarray, mask: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image size {rgb.shape[:2]}")


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


def export_photo(
    rgb: np.ndarray,
    mask: np.ndarray,
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: ExportOptions = ExportOptions(),
    plan: OutputPlan | None = None,
    alpha: np.ndarray | None = None,
    icc: bytes | object | None = FROM_FILE,
) -> list[Path]:
    """Write the requested formats for one photo into ``out_dir``; return the written paths.

    Names come from ``plan`` (one `OutputPlan` for a whole batch, so that names are chosen with
    every input in view), or from a plan of this photo alone. Never replaces an input or a file
    CarMask did not write (see `engine.batch.outputs`). ``alpha``, the photo's own transparency,
    bounds
    the cutout: what was transparent in the photo stays transparent. Raises OutputWriteError
    (naming the output file) on any write failure, ValueError for an unknown format or
    mismatched arrays. ``icc``: the photo's colour profile as its decode found it
    (`engine.io.Photo.icc`); by default read from the photo's file.
    """
    input_path = Path(input_path)
    plan = plan or OutputPlan(options.formats, [input_path])
    paths = plan.assign(input_path, out_dir)
    if not paths:
        return []
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    _check_pair(rgb, mask)
    if alpha is not None:
        mask = np.minimum(alpha_u8(mask), alpha_u8(np.asarray(alpha)))

    level = options.png_compress_level
    # the photo's colours mean what its profile says: cutout and composite keep it (not the mask)
    if icc is FROM_FILE:
        icc = read_icc_profile(input_path) if set(paths) - {"mask", "listing"} else None
    colour = {"icc_profile": icc} if isinstance(icc, bytes) and icc else {}
    written: list[Path] = []
    cut: np.ndarray | None = None
    for fmt, path in paths.items():
        if fmt == "listing":  # written per car, once all its angles are in (engine.listing)
            continue
        if fmt == "mask":
            data = image_writer(alpha_u8(mask), "PNG", compress_level=level)
        else:
            if cut is None:  # the car with its soft, decontaminated edge: PNG and JPEG
                from engine.matte.alpha import clean_cutout  # OpenCV: not at the CLI's start

                cut = clean_cutout(rgb, mask)
            if fmt == "png":
                data = image_writer(cut, "PNG", compress_level=level, **colour)
            else:
                image = composite_on(cut[..., :3], cut[..., 3], options.background)
                data = image_writer(
                    image, "JPEG", quality=options.jpeg_quality, subsampling=0, **colour
                )
        written.append(plan.write(path, input_path, data))
    return written
