"""What a user chooses for listing frames: the sizes (the presets listing sites take, and
`WIDTHxHEIGHT` as the CLI reads it) and the shadows. No OpenCV or torch here: the CLI's parser
imports it."""

from __future__ import annotations

import re

# under the tyres and sill; plus a soft cast one; the photo's own floor shadow; none
SHADOWS = ("contact", "drop", "real", "none")

# (width, height): the listing sites' and dealer systems' sizes
SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "1920x1280": (1920, 1280),  # 3:2
    "1600x1200": (1600, 1200),  # 4:3, what dealer inventory systems take
    "1024x768": (1024, 768),
    "640x480": (640, 480),
    "1920x1080": (1920, 1080),  # 16:9
    "1080x1080": (1080, 1080),  # square
}
_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")
# a frame's peak memory per pixel while it is rendered and encoded (about 29 measured at
# 6000x4000 with a contact shadow): 16384x16384 would need 8 GB for one frame
FRAME_BYTES_PER_PIXEL = 30
MAX_FRAME_MEGAPIXELS = 64.0  # 8192x6144 and 8K (7680x4320) fit; about 2 GB at most


def parse_size(text: str) -> tuple[int, int]:
    """'1600x1200' (a preset or any WxH from 16 to 16384 a side, at most
    `MAX_FRAME_MEGAPIXELS`) as (width, height)."""
    m = _SIZE.match(text)
    if not m:
        presets = ", ".join(SIZE_PRESETS)
        raise ValueError(f"size must be WIDTHxHEIGHT (e.g. {presets}), got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise ValueError(f"size {w}x{h} out of range: 16 to 16384 pixels a side")
    mp = w * h / 1e6
    if mp > MAX_FRAME_MEGAPIXELS:
        gb = mp * FRAME_BYTES_PER_PIXEL / 1e3
        raise ValueError(
            f"size {w}x{h} is {mp:.0f} megapixels a frame (about {gb:.1f} GB of memory "
            f"each); at most {MAX_FRAME_MEGAPIXELS:g} megapixels"
        )
    return w, h
