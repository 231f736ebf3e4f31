"""Draw the CarMask Studio application icon with Pillow, reproducibly, in every format the
platforms want: PNGs (16–1024 px, Linux and the window icon), `.ico` (Windows, 16–256 px) and
`.icns` (macOS, 16–1024 px).

The motif: a car cut out of its photo — a side-view car with a soft ground shadow on a
checkerboard (the usual picture of "transparent"), inside a rounded square. Every size is drawn
on its own canvas at 4× (at least 512 px) and scaled down, so small icons stay sharp; the
smallest sizes use fewer, bigger checks. Same Pillow version, same bytes.

    python packaging/make_icons.py            # writes resources/icons/
    python packaging/make_icons.py --check    # exit 1 if the files there are missing or stale
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

NAME = "carmask-studio"
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)

# colours
CHECK_LIGHT = (242, 244, 248, 255)
CHECK_DARK = (206, 212, 222, 255)
FRAME = (70, 84, 108, 255)
BODY = (33, 118, 232, 255)  # the car
BODY_EDGE = (20, 78, 168, 255)
GLASS = (214, 229, 250, 255)
TYRE = (28, 33, 44, 255)
HUB = (196, 204, 216, 255)
SHADOW = (20, 24, 32, 110)

# geometry on a 1000×1000 design grid (x right, y down)
SQUARE = (48, 48, 952, 952)
RADIUS = 210
Point = tuple[float, float]


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    pts = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        pts.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return pts


def _path(start: Point, segments: list[tuple[Point, ...]]) -> list[Point]:
    """A closed outline: each segment is a line (one point) or a cubic curve (three points)."""
    pts, cur = [start], start
    for seg in segments:
        if len(seg) == 1:
            pts.append(seg[0])
        else:
            pts += _bezier(cur, *seg)
        cur = pts[-1]
    return pts


# a sedan in profile, facing right
_BODY = _path(
    (150, 660),
    [
        ((128, 640), (122, 590), (132, 560)),  # rear bumper
        ((140, 530), (175, 515), (250, 508)),  # boot lid
        ((300, 500), (335, 430), (390, 400)),  # rear window
        ((430, 385), (560, 380), (600, 388)),  # roof
        ((650, 400), (700, 470), (735, 505)),  # windscreen
        ((800, 515), (865, 525), (880, 560)),  # bonnet
        ((892, 590), (890, 640), (868, 660)),  # nose
        ((500, 668),),
    ],
)
_WINDOWS = (
    _path((335, 505), [((360, 440), (395, 418), (480, 410)), ((485, 505),)]),
    _path((512, 410), [((585, 408), (625, 420), (645, 440)), ((690, 505),), ((512, 505),)]),
)
_WHEELS = ((285, 660), (715, 660))
_WHEEL_R, _HUB_R, _ARCH_R = 78, 34, 92


def _placer(size: int, s: float):
    """Design grid → canvas pixels: the car centred in the square, a little bigger when tiny."""
    k = 1.12 if size <= 32 else 1.04

    def place(x: float, y: float) -> Point:
        return ((500 + (x - 505) * k) * s, (512 + (y - 578) * k) * s)

    return place, k * s


def draw(size: int) -> Image.Image:
    """The icon at `size` pixels, drawn at 4× (at least 512 px) and scaled down."""
    px = max(size * 4, 512)
    s = px / 1000
    checks = 4 if size <= 32 else 8

    # checkerboard inside the rounded square
    board = Image.new("RGBA", (px, px), CHECK_LIGHT)
    bd = ImageDraw.Draw(board)
    x0, y0, x1, y1 = (v * s for v in SQUARE)
    cell = (x1 - x0) / checks
    for r in range(checks):
        for c in range(checks):
            if (r + c) % 2:
                bd.rectangle(
                    (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell),
                    fill=CHECK_DARK,
                )
    mask = Image.new("L", (px, px), 0)
    ImageDraw.Draw(mask).rounded_rectangle((x0, y0, x1, y1), RADIUS * s, fill=255)
    icon = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    icon.paste(board, (0, 0), mask)

    place, ks = _placer(size, s)

    def disc(draw: ImageDraw.ImageDraw, centre: Point, radius: float, colour) -> None:
        (cx, cy), r = place(*centre), radius * ks
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)

    # soft ground shadow (left out when tiny: it would only blur the wheels)
    if size > 32:
        shadow = Image.new("RGBA", (px, px), (0, 0, 0, 0))
        ImageDraw.Draw(shadow).ellipse((*place(150, 700), *place(880, 770)), fill=SHADOW)
        icon.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(18 * s)))

    # the car: body with an edge, a dark arch behind each wheel, glass, tyres and hubs
    car = ImageDraw.Draw(icon)
    edge = max(1, round(14 * ks))
    car.polygon([place(*p) for p in _BODY], fill=BODY, outline=BODY_EDGE, width=edge)
    for centre in _WHEELS:
        disc(car, centre, _ARCH_R, BODY_EDGE)
    for win in _WINDOWS:
        car.polygon([place(*p) for p in win], fill=GLASS)
    for centre in _WHEELS:
        disc(car, centre, _WHEEL_R, TYRE)
        disc(car, centre, _HUB_R, HUB)

    # frame, so the icon reads on light and dark desktops
    frame = max(1, round(16 * s))
    ImageDraw.Draw(icon).rounded_rectangle((x0, y0, x1, y1), RADIUS * s, outline=FRAME, width=frame)
    # keep the shadow and frame inside the rounded square
    icon.putalpha(Image.composite(icon.getchannel("A"), Image.new("L", (px, px), 0), mask))
    return icon.resize((size, size), Image.Resampling.LANCZOS)


def render() -> dict[str, bytes]:
    """File name → bytes for every icon file."""
    images = {size: draw(size) for size in sorted(set(PNG_SIZES + ICO_SIZES + ICNS_SIZES))}
    files: dict[str, bytes] = {}
    for size in PNG_SIZES:
        buf = io.BytesIO()
        images[size].save(buf, "PNG", optimize=True)
        files[f"{NAME}-{size}.png"] = buf.getvalue()
    buf = io.BytesIO()
    largest = images[max(ICO_SIZES)]
    largest.save(
        buf,
        "ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    files[f"{NAME}.ico"] = buf.getvalue()
    buf = io.BytesIO()
    images[max(ICNS_SIZES)].save(
        buf, "ICNS", append_images=[images[s] for s in ICNS_SIZES if s != max(ICNS_SIZES)]
    )
    files[f"{NAME}.icns"] = buf.getvalue()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ICONS, help=f"folder (default: {ICONS})")
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    files = render()
    stale = [
        n
        for n, data in files.items()
        if not (args.out / n).is_file() or (args.out / n).read_bytes() != data
    ]
    if args.check:
        for name in stale:
            print(f"stale or missing: {args.out / name}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_bytes(files[name])
    print(f"{len(files)} icon files in {args.out} ({len(stale)} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
