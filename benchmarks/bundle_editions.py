"""The two desktop editions side by side, one run on one machine: size on disk, the window's
start-up (from starting `carmask-studio` to its window on screen, as its self-test reports it),
`carmask --help`, and `carmask predict` on the sample photos, each bundle in a clean environment
(no Python on PATH, a throw-away HOME: packaging/smoke_check.clean_env).

    python benchmarks/bundle_editions.py --bundle full="dist/CarMask Studio" \
        --bundle cpu="dist/cpu/CarMask Studio" [--rounds 5] \
        [--json benchmarks/results/bundle-editions.json]

The first `--bundle` is the baseline: ratios are to it. Rounds alternate the bundles' order, so
neither always runs with a warmer OS cache; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

import smoke_check  # noqa: E402


def measure(bundle: Path, tmp: Path, samples: list[Path]) -> dict:
    """One round on one bundle: seconds for each step (None where it failed)."""
    env, gui_env = smoke_check.clean_env(tmp), smoke_check.clean_env(tmp, gui=True)
    st = smoke_check.run([bundle / "carmask-studio", "--self-test"], gui_env, timeout=300)
    helped = smoke_check.run([bundle / "carmask", "--help"], env, timeout=120)
    out = tmp / f"masks-{bundle.parent.name}"
    pred = smoke_check.run(
        [bundle / "carmask", "predict", *samples, "--out", out, "--format", "mask", "-q"],
        env,
        timeout=600,
    )
    ok = st.rc == 0 and "self-test ok" in st.out
    per = re.search(r"([\d.]+) s per photo", pred.out)
    return {
        "window_up_s": smoke_check.window_up_s(st) if ok else None,
        "self_test_s": round(st.seconds, 3) if ok else None,
        "cli_help_s": round(helped.seconds, 3) if helped.rc == 0 else None,
        "predict_wall_s": round(pred.seconds, 3) if pred.rc == 0 else None,
        "predict_median_s_per_photo": float(per.group(1)) if per else None,
        "device": next(
            (
                s.split("device ", 1)[1].split(";")[0]
                for s in st.out.splitlines()
                if ok and s.startswith("self-test ok")
            ),
            None,
        ),
    }


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    bundles = {}
    for item in args.bundle:
        name, _, folder = item.partition("=")
        bundles[name] = Path(folder).resolve()
        if not (bundles[name] / "carmask-studio").is_file():
            parser.error(f"{folder}: no bundle there (no carmask-studio)")
    samples = sorted((ROOT / "resources" / "samples").glob("*.jpg"))[: args.samples]
    rounds: dict[str, list[dict]] = {name: [] for name in bundles}
    names = list(bundles)
    with tempfile.TemporaryDirectory(prefix="carmask-editions-") as tmp:
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                folder = Path(tmp) / f"{name}-{r}"
                folder.mkdir()
                rounds[name].append(measure(bundles[name], folder, samples))
                print(f"round {r + 1} {name}: {rounds[name][-1]}", flush=True)
    keys = [
        "window_up_s",
        "self_test_s",
        "cli_help_s",
        "predict_wall_s",
        "predict_median_s_per_photo",
    ]
    base = names[0]
    result = {
        "benchmark": "bundle editions",
        "environment": {
            "platform": platform.platform(),
            "cpu_count": len(__import__("os").sched_getaffinity(0)),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "baseline": base,
        "rounds": args.rounds,
        "photos": [p.name for p in samples],
        "bundles": {},
    }
    for name, folder in bundles.items():
        sizes = smoke_check.bundle_sizes(folder)
        medians = {k: median([x[k] for x in rounds[name]]) for k in keys}
        result["bundles"][name] = {
            "path": str(folder),
            "total_mib": sizes["total_mib"],
            "files": sizes["files"],
            "parts": sizes["parts"][:10],
            "device": next((x["device"] for x in rounds[name] if x["device"]), None),
            "medians": medians,
            "rounds": rounds[name],
        }
    for name in names:
        b, o = result["bundles"][base], result["bundles"][name]
        o["ratio_to_baseline"] = {
            "size": round(o["total_mib"] / b["total_mib"], 3),
            **{
                k: round(o["medians"][k] / b["medians"][k], 3)
                for k in keys
                if o["medians"][k] and b["medians"][k]
            },
        }
    print(f"{'':22}" + "".join(f"{n:>16}" for n in names))
    print(
        f"{'size MiB':22}" + "".join(f"{result['bundles'][n]['total_mib']:>16.1f}" for n in names)
    )
    for k in keys:
        print(f"{k:22}" + "".join(f"{result['bundles'][n]['medians'][k]!s:>16}" for n in names))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
