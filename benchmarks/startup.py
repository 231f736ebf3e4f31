"""Start-up: how long `carmask --help` takes to answer and how long the studio window takes to
come up (a fresh interpreter each time, offscreen Qt, an empty session), for this checkout and,
as the baseline in the same run, an earlier revision of it (`--baseline REV`, checked out into
a temporary git worktree).

    python benchmarks/startup.py --baseline 3ee2097 --repeats 7

Prints a table and writes JSON (`--out`, default benchmarks/results/startup-cpu.json): every
run's seconds, the medians and new/old ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.io import atomic_write_bytes  # noqa: E402

WINDOW = """
import sys, tempfile
from pathlib import Path
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from app.settings import Settings
from app.window import MainWindow
tmp = Path(tempfile.mkdtemp())
store = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
window = MainWindow(session_dir=tmp / "session", settings=Settings(store))
window.show()
QTimer.singleShot(0, app.quit)  # the first turn of the event loop: the window is up
app.exec()
"""

PROBES = {
    "cli_help": ["-m", "engine.cli", "--help"],
    "window_up": ["-c", WINDOW],
}


def time_probe(tree: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, check=True, capture_output=True, timeout=300
    )
    return time.perf_counter() - t0


def measure(trees: dict[str, Path], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Seconds of each probe in each tree, the trees taking turns, which goes first swapping
    every round (a busy moment of the machine, or going first, falls on both alike); one
    warm-up run of each first (the file cache)."""
    runs: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PROBES} for t in trees}
    for tree in trees.values():
        for args in PROBES.values():
            time_probe(tree, args)
    names = list(trees)
    for i in range(repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            for probe, args in PROBES.items():
                runs[name][probe].append(round(time_probe(trees[name], args), 4))
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="", help="git revision to compare with (e.g. a tag)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default=str(REPO / "benchmarks/results/startup-cpu.json"))
    args = p.parse_args(argv)
    trees = {"new": REPO}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            old = Path(tmp) / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(old), args.baseline],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            trees["old"] = old
        try:
            runs = measure(trees, args.repeats)
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(trees["old"])],
                    cwd=REPO,
                    check=False,
                )
    medians = {t: {p: statistics.median(v) for p, v in r.items()} for t, r in runs.items()}
    print(f"{'probe':<10} " + " ".join(f"{t + ' median s':>14}" for t in runs) + "   new/old")
    ratios = {}
    for probe in PROBES:
        line = f"{probe:<10} " + " ".join(f"{medians[t][probe]:>14.3f}" for t in runs)
        if "old" in medians:
            ratios[probe] = round(medians["new"][probe] / medians["old"][probe], 3)
            line += f"   {ratios[probe]:.3f}"
        print(line)
    report = {
        "benchmark": "startup",
        "baseline": args.baseline,
        "repeats": args.repeats,
        "seconds": runs,
        "median_s": medians,
        "ratio_new_over_old": ratios,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
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
