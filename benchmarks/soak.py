"""Memory soak: resident memory over a long run of `carmask predict`'s loop body.

A studio runs thousands of photos in one app session, so memory must not creep. Each variant
runs in its own fresh process over the same photos (cycled to `-n`), doing exactly what the CLI
does per photo (`read_photo`, `Predictor.predict`, `export_photo` through one `OutputPlan`, PNG
cutout + mask), and samples RSS and the number of live Python objects every `--every` photos:

- `baseline`: the loop as the CLI ran it before `engine.inference.memory` (nothing handed back);
- `keeper`: what the CLI and the app's batch worker do now: `engine.inference.memory.HeapKeeper`,
which
  calls glibc's `malloc_trim(0)` after a photo whenever RSS grew by 192 MB since the last trim.
  If RSS stays flat here, the growth was freed heap the allocator kept, not a leak;
- `one-arena`: the baseline with `MALLOC_ARENA_MAX=2` (fewer per-thread heaps to fragment).

Reported per variant: RSS after the warm-up photos and at the end, the growth per photo over
the second half (least-squares slope, MB/photo), live Python objects at both ends.

    python benchmarks/soak.py --photos ../shared/data/carvana/val -n 1000 --threads 2
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

VARIANTS = ("baseline", "keeper", "one-arena")


def run_variant(args) -> dict:
    import torch

    from engine.batch.export import ExportOptions, export_photo
    from engine.batch.outputs import OutputPlan
    from engine.inference.memory import HeapKeeper, resident_mb
    from engine.inference.predict import Predictor
    from engine.io import find_images, read_photo
    from engine.modelfiles.library import chosen_model_paths

    torch.set_num_threads(args.threads)
    photos, _ = find_images([args.photos])
    photos = photos[: args.distinct]
    predictor = Predictor(chosen_model_paths(args.model, False), device="cpu")
    options = ExportOptions(formats=("png", "mask"))
    keeper = HeapKeeper() if args.variant == "keeper" else None
    samples = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            if i % 100 == 0:  # a fresh output folder per 100 photos: the disk does not fill
                out = Path(tmp) / f"out{i // 100}"
                plan = OutputPlan(options.formats, photos)
                if i:
                    for f in (Path(tmp) / f"out{i // 100 - 1}").iterdir():
                        f.unlink()
            path = photos[i % len(photos)]
            photo = read_photo(path)
            mask = predictor.predict(photo.rgb)
            export_photo(photo.rgb, mask, path, out, options, plan, photo.alpha)
            if keeper is not None:
                keeper.after_photo()
            if (i + 1) % args.every == 0:
                samples.append(
                    {
                        "photos": i + 1,
                        "rss_mb": round(resident_mb() or 0.0, 1),
                        "objects": len(gc.get_objects()),
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                )
                s = samples[-1]
                print(
                    f"  {args.variant}: {s['photos']} photos, RSS {s['rss_mb']:.0f} MB, "
                    f"{s['objects']} objects",
                    file=sys.stderr,
                    flush=True,
                )
    half = [s for s in samples if s["photos"] > args.n / 2]
    return {"variant": args.variant, "samples": samples, "slope_mb_per_photo": _slope(half)}


def _slope(samples: list[dict]) -> float | None:
    if len(samples) < 2:
        return None
    xs = [s["photos"] for s in samples]
    ys = [s["rss_mb"] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den, 4)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--photos", default=str(REPO.parent / "shared/data/carvana/val"))
    p.add_argument("--model", action="append", default=[])
    p.add_argument("-n", type=int, default=1000, help="photos per variant (cycled)")
    p.add_argument("--distinct", type=int, default=64, help="distinct photos to cycle through")
    p.add_argument("--every", type=int, default=20, help="sample every this many photos")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # the child
    p.add_argument("--out", default=str(HERE / "results" / "soak-cpu.json"))
    args = p.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args)))
        return 0
    results = []
    for v in args.variants:
        env = dict(os.environ, **({"MALLOC_ARENA_MAX": "2"} if v == "one-arena" else {}))
        cmd = [
            sys.executable,
            __file__,
            "--variant",
            v,
            "--photos",
            args.photos,
            "-n",
            str(args.n),
            "--distinct",
            str(args.distinct),
            "--every",
            str(args.every),
            "--threads",
            str(args.threads),
        ] + [a for m in args.model for a in ("--model", m)]
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n{'variant':<10} {'RSS first':>10} {'RSS last':>10} {'MB/photo':>9} {'objects':>16}")
    for r in results:
        a, b = r["samples"][0], r["samples"][-1]
        print(
            f"{r['variant']:<10} {a['rss_mb']:>10.0f} {b['rss_mb']:>10.0f} "
            f"{r['slope_mb_per_photo'] or 0:>9.3f} {a['objects']:>7}->{b['objects']:<8}"
        )
    report = {
        "photos": args.photos,
        "n": args.n,
        "distinct": args.distinct,
        "threads": args.threads,
        "variants": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
