"""Listing frames: what framing + backdrop + shadow cost per full-size photo, against the old
way in the same run (the JPEG-on-a-colour composite `carmask predict --format jpg` writes,
`engine.batch.export.composite_on`, at the photo's own size). Encoding is left out of both: it is
the
same JPEG save either way.

Photos: the 16 angles of a Carvana val car at 1918x1280 with their hand masks (DATA/carvana/val,
val_masks), read once beforehand. Each photo is timed `--repeats` times per pipeline, the two
alternating; medians (and min/max) per photo are printed and written as JSON.

    python benchmarks/listing.py --threads 2 --size 1600x1200 --shadow contact
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.batch.export import composite_on  # noqa: E402
from engine.io import atomic_write_bytes, read_mask, read_rgb  # noqa: E402
from engine.listing.choices import SHADOWS, parse_size  # noqa: E402
from engine.listing.framing import car_box, plan_frames  # noqa: E402
from engine.listing.render import Backdrop, ShadowStyle, render_angle  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--car", default="1a17a1bd648b")
    p.add_argument("--size", type=parse_size, default="1600x1200")
    p.add_argument("--shadow", choices=SHADOWS, default="contact")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limit", type=int, default=16, help="angles of the car to time")
    p.add_argument("--out", default=str(REPO / "benchmarks/results/listing-cpu.json"))
    args = p.parse_args(argv)
    cv2.setNumThreads(args.threads)
    val = Path(args.data) / "carvana" / "val"
    photos = sorted(val.glob(f"{args.car}_*.jpg"))[: args.limit]
    if not photos:
        raise SystemExit(f"no photos of car {args.car} in {val}")
    angles = [
        (read_rgb(f), read_mask(val.parent / "val_masks" / f"{f.stem}_mask.gif")) for f in photos
    ]
    backdrop, shadow = Backdrop((250, 250, 250), (200, 200, 205)), ShadowStyle(args.shadow, 0.5)

    def listing(rgb, mask):  # what --format listing adds per photo: its box, frame, render
        box = car_box(mask)
        plan = plan_frames([box], args.size, 0.06)[0]
        return render_angle(rgb, mask, box, plan, backdrop, shadow)

    pipelines = {
        "old_composite": lambda rgb, m: composite_on(rgb, m, (255, 255, 255)),
        "listing": listing,
    }
    for fn in pipelines.values():  # warm-up
        fn(*angles[0])
    seconds: dict[str, list[float]] = {name: [] for name in pipelines}
    for i, (rgb, mask) in enumerate(angles):
        per = {name: [] for name in pipelines}
        for r in range(args.repeats):
            order = list(pipelines) if (i + r) % 2 == 0 else list(pipelines)[::-1]
            for name in order:
                t0 = time.perf_counter()
                pipelines[name](rgb, mask)
                per[name].append(time.perf_counter() - t0)
        for name in pipelines:
            seconds[name].append(round(statistics.median(per[name]), 4))
    med = {n: statistics.median(v) for n, v in seconds.items()}
    added = statistics.median(
        a - b for a, b in zip(seconds["listing"], seconds["old_composite"], strict=True)
    )
    h, w = angles[0][0].shape[:2]
    print(
        f"{len(angles)} photos of {w}x{h} -> {args.size[0]}x{args.size[1]}, "
        f"shadow {args.shadow}, {args.threads} threads"
    )
    for name, values in seconds.items():
        print(
            f"{name:<14} median {med[name]:.4f} s  (min {min(values):.4f}, max {max(values):.4f})"
        )
    print(
        f"listing/old ratio {med['listing'] / med['old_composite']:.2f}; "
        f"added per photo (median) {added:.4f} s"
    )
    report = {
        "benchmark": "listing",
        "photos": [str(f) for f in photos],
        "photo_size": [w, h],
        "frame_size": list(args.size),
        "shadow": args.shadow,
        "threads": args.threads,
        "seconds_per_photo": seconds,
        "median_s": med,
        "ratio_listing_over_old": round(med["listing"] / med["old_composite"], 3),
        "added_s_median": round(added, 4),
        "environment": {
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(report, indent=1) + "\n").encode())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
