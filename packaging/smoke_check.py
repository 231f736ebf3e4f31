"""Smoke check of the built bundle, run with a clean environment (no PYTHONPATH, no virtual
environment or Python on PATH, a throw-away HOME so the user's settings, session and model
library are untouched):

1. the bundled CLI segments sample photos from resources/samples, and its masks match the ones
   the installed package makes (`python -m engine.cli predict`, same flags): identical, or
   Dice >= 0.999;
2. the bundled studio window passes `carmask-studio --self-test` offscreen (opens the main
   window, segments one sample photo, exits 0);
3. `carmask-studio --engine-train --help` answers (the fine-tuning wizard's training child),
   and where the test photos exist (tests/data/carvana), one real training step runs through it;
4. (Linux) every executable and library in the bundle resolves its libraries inside the bundle
   or from the system, never from a Python installation;
and it measures the bundle's size and the start-up times.

    python packaging/smoke_check.py [--bundle "dist/CarMask Studio"] [--json FILE]

Exit code 0 when every check passed. Needs numpy and Pillow in the Python that runs it (the
development environment), not in the bundle.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_NAME = "CarMask Studio"
DEFAULT_BUNDLE = ROOT / "dist" / APP_NAME
IS_WIN = sys.platform == "win32"
EXE_SUFFIX = ".exe" if IS_WIN else ""
DICE_MIN = 0.999
# libraries a bundle may legitimately not find on a machine without an NVIDIA driver
DRIVER_LIBS = ("libcuda.so", "libnvidia-", "libnvcuvid", "libnvoptix")
# library families that must come from the bundle itself
BUNDLED_FAMILIES = (
    "libQt6",
    "libpyside6",
    "libshiboken6",
    "libicu",
    "libtorch",
    "libc10",
    "libcudnn",
    "libcublas",
    "libcudart",
    "libcufft",
    "libcusparse",
    "libcusolver",
    "libnccl",
    "libnvrtc",
    "libnvJitLink",
    "libcupti",
    "libcufile",
    "libnvshmem",
    "libpython",
)


# -- sizes ------------------------------------------------------------------------------------
def _part_of(rel: Path) -> str:
    """The component a bundle file belongs to, for the size breakdown."""
    parts = rel.parts
    if parts[0] != "_internal":
        return f"executable {parts[0]}" if len(parts) == 1 else parts[0]
    inner = parts[1:]
    if len(inner) == 1:
        return (
            "_internal/*.so (top-level libraries)"
            if ".so" in inner[0] or inner[0].endswith((".dll", ".dylib"))
            else f"_internal/{inner[0]}"
        )
    if inner[0] in ("nvidia", "torch", "PySide6") and len(inner) > 2:
        if inner[0] == "PySide6" and inner[1] == "Qt" and len(inner) > 3:
            return "/".join(inner[:3])
        return "/".join(inner[:2])
    return inner[0]


def bundle_sizes(bundle: Path) -> dict:
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    parts: dict[str, int] = {}
    for f in files:
        key = _part_of(f.relative_to(bundle))
        parts[key] = parts.get(key, 0) + f.stat().st_size
    total = sum(parts.values())
    largest = sorted(files, key=lambda f: -f.stat().st_size)[:15]
    return {
        "path": str(bundle),
        "files": len(files),
        "total_bytes": total,
        "total_mib": round(total / 2**20, 1),
        "parts": [
            {"part": k, "mib": round(v / 2**20, 1), "share": round(v / total, 4)}
            for k, v in sorted(parts.items(), key=lambda kv: -kv[1])
        ],
        "largest_files": [
            {"file": f.relative_to(bundle).as_posix(), "mib": round(f.stat().st_size / 2**20, 1)}
            for f in largest
        ],
    }


def format_sizes(sizes: dict, top: int = 14) -> str:
    lines = [f"bundle: {sizes['path']}: {sizes['total_mib']:.0f} MiB in {sizes['files']} files"]
    for p in sizes["parts"][:top]:
        lines.append(f"  {p['mib']:8.1f} MiB  {100 * p['share']:5.1f} %  {p['part']}")
    rest = sizes["parts"][top:]
    if rest:
        lines.append(f"  {sum(p['mib'] for p in rest):8.1f} MiB          {len(rest)} other parts")
    return "\n".join(lines)


def _saving_category(rel: str) -> str:
    """Why a file of the no-exclusions baseline is not in the bundle."""
    if rel.startswith("_internal/triton/"):
        return "triton: torch.compile's GPU compiler (libtriton, ptxas, CUDA headers)"
    if rel.startswith("_internal/nvidia/"):
        return "CUDA libraries torch never loads (cuSOLVERMg, cuFFTW, NVBLAS, NVPERF, NVSHMEM)"
    if rel.startswith("_internal/PySide6/Qt/translations/"):
        return "Qt translations (the app is English only)"
    if rel.startswith(("_internal/torch/bin/", "_internal/torch/test/")) or "_test." in rel:
        return "torch build tools (protoc), C++ test programs and test libraries"
    if rel.endswith(".py"):
        return "Python sources beside the compiled archive (torch, torchvision, triton)"
    if rel.startswith("_internal/PySide6/"):
        return "Qt: unused binding modules, QML/Quick/virtual keyboard, embedded and input plugins"
    return "other"


def exclusion_savings(baseline: Path, bundle: Path) -> dict:
    """What the exclusions save: the files of a no-exclusions build (`build.py --baseline`)
    that the bundle lacks, by reason, plus the smaller module archive in each executable."""

    def listing(root: Path) -> dict[str, int]:
        return {
            p.relative_to(root).as_posix(): p.stat().st_size
            for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()
        }

    base, final = listing(baseline), listing(bundle)
    saved: dict[str, list[int]] = {}
    for rel, size in base.items():
        if rel not in final:
            entry = saved.setdefault(_saving_category(rel), [0, 0])
            entry[0] += 1
            entry[1] += size
    shrunk = sum(base[r] - final[r] for r in base.keys() & final.keys() if "/" not in r)
    if shrunk:
        saved[
            "pure-Python modules never imported (the archive in each executable): torch's "
            "compiler / test / distributed parts, triton, jinja2, networkx, setuptools"
        ] = [0, shrunk]
    total_base, total_final = sum(base.values()), sum(final.values())
    return {
        "baseline": str(baseline),
        "baseline_mib": round(total_base / 2**20, 1),
        "bundle_mib": round(total_final / 2**20, 1),
        "saved_mib": round((total_base - total_final) / 2**20, 1),
        "by_reason": [
            {"reason": k, "files": n, "mib": round(b / 2**20, 1)}
            for k, (n, b) in sorted(saved.items(), key=lambda kv: -kv[1][1])
        ],
    }


def format_savings(savings: dict) -> str:
    lines = [
        f"exclusions: {savings['baseline_mib']:.0f} MiB without them -> "
        f"{savings['bundle_mib']:.0f} MiB ({savings['saved_mib']:.0f} MiB saved)"
    ]
    for row in savings["by_reason"]:
        lines.append(f"  {row['mib']:8.1f} MiB  {row['reason']}")
    return "\n".join(lines)


# -- running the bundle -----------------------------------------------------------------------
@dataclass
class Run:
    cmd: list[str]
    rc: int
    seconds: float
    out: str
    err: str
    started: float = 0.0  # time.time() at the start (for times the program itself reports)

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Report:
    checks: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    masks: list[dict] = field(default_factory=list)
    libraries: dict = field(default_factory=dict)

    def check(self, name: str, ok: bool, note: str = "") -> bool:
        self.checks[name] = bool(ok)
        if note:
            self.notes[name] = note
        print(f"[{'ok' if ok else 'FAILED'}] {name}{': ' + note if note else ''}", flush=True)
        return ok


def clean_env(tmp: Path, gui: bool = False) -> dict[str, str]:
    """Nothing from the developer's shell: no PYTHON*, no venv, PATH holds only an empty
    folder (no python to find), HOME is a throw-away folder."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    empty = tmp / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": str(empty), "LANG": "C.UTF-8", "TMPDIR": str(tmp)}
    if IS_WIN:
        sysroot = os.environ.get("SYSTEMROOT", r"C:\Windows")
        env.update(
            SYSTEMROOT=sysroot,
            WINDIR=os.environ.get("WINDIR", sysroot),
            SYSTEMDRIVE=os.environ.get("SYSTEMDRIVE", "C:"),
            PATH=os.pathsep.join([str(empty), str(Path(sysroot) / "System32")]),
            TEMP=str(tmp),
            TMP=str(tmp),
            USERPROFILE=str(home),
            APPDATA=str(home / "AppData" / "Roaming"),
            LOCALAPPDATA=str(home / "AppData" / "Local"),
        )
    for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    if gui:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def run(cmd: list, env: dict | None, timeout: float = 600, cwd: Path | None = None) -> Run:
    """Run a command; the bundle's runs start in its throw-away HOME, away from the source tree
    (so nothing there can be imported by accident)."""
    cmd = [str(c) for c in cmd]
    if cwd is None and env is not None and "HOME" in env:
        cwd = Path(env["HOME"])
    started, t0 = time.time(), time.perf_counter()
    try:
        p = subprocess.run(
            cmd,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            encoding="utf-8",
            errors="replace",
        )
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = 124, str(exc.stdout or ""), f"timed out after {timeout} s"
    return Run(cmd, rc, time.perf_counter() - t0, out, err, started)


def _tail(r: Run, n: int = 600) -> str:
    return r.text.strip()[-n:]


# -- the checks -------------------------------------------------------------------------------
def check_cli(report: Report, bundle: Path, tmp: Path, samples: list[Path], device: str) -> None:
    cli = bundle / f"carmask{EXE_SUFFIX}"
    env = clean_env(tmp)
    helps = [run([cli, "--help"], env, timeout=120) for _ in range(3)]
    report.timings["cli_help_s"] = [round(r.seconds, 3) for r in helps]
    report.timings["cli_help_median_s"] = round(statistics.median(r.seconds for r in helps), 3)
    report.check(
        "cli --help",
        all(r.rc == 0 and "predict" in r.out for r in helps),
        f"{report.timings['cli_help_median_s']:.2f} s (median of 3)"
        if helps[-1].rc == 0
        else _tail(helps[-1]),
    )
    ver = run([cli, "--version"], env, timeout=120)
    report.check("cli --version", ver.rc == 0, ver.out.strip() or _tail(ver))

    flags = ["--format", "mask", "-q", "--device", device]
    one = run([cli, "predict", samples[0], "--out", tmp / "one", *flags], env)
    report.timings["cli_predict_one_photo_s"] = round(one.seconds, 3)
    report.check(
        "cli predict: one photo",
        one.rc == 0,
        f"{one.seconds:.2f} s from start to exit: {one.out.strip()}" if one.rc == 0 else _tail(one),
    )
    report.check(  # a frozen torch once printed dozens of TorchScript warnings on every start
        "cli predict: no warnings on stderr",
        "Warning" not in one.err,
        one.err.strip()[-300:] or "clean",
    )

    out = tmp / "bundle-masks"
    batch = run([cli, "predict", *samples, "--out", out, *flags], env)
    per = re.search(r"([\d.]+) s per photo", batch.out)
    dev = re.search(r"device: (.+)$", batch.out.strip(), re.M)
    report.timings["cli_predict_batch"] = {
        "photos": len(samples),
        "wall_s": round(batch.seconds, 3),
        "median_s_per_photo": float(per.group(1)) if per else None,
        "device": dev.group(1) if dev else None,
    }
    if not report.check(
        f"cli predict: {len(samples)} photos",
        batch.rc == 0,
        batch.out.strip() if batch.rc == 0 else _tail(batch),
    ):
        return

    ref = tmp / "package-masks"
    env_ref = {k: v for k, v in os.environ.items() if k != "CARMASK_RESOURCES"}
    env_ref["CARMASK_LIBRARY"] = str(tmp / "no-library")
    reference = run(
        [sys.executable, "-m", "engine.cli", "predict", *samples, "--out", ref, *flags],
        env_ref,
        cwd=ROOT,
    )
    if not report.check(
        "package predict (reference)",
        reference.rc == 0,
        reference.out.strip() if reference.rc == 0 else _tail(reference),
    ):
        return
    import numpy as np

    from engine.io import read_mask  # the development environment's engine (numpy, Pillow)
    from engine.training.metrics import dice

    worst = 1.0
    for photo in samples:
        name = f"{photo.stem}_mask.png"
        a, b = read_mask(out / name), read_mask(ref / name)
        d = dice(a, b) if a.shape == b.shape else 0.0
        worst = min(worst, d)
        report.masks.append(
            {
                "photo": photo.name,
                "identical": bool(a.shape == b.shape and np.array_equal(a, b)),
                "dice": round(d, 6),
                "different_pixels": int((a != b).sum()) if a.shape == b.shape else None,
                "car_fraction": round(float(a.mean()), 4),
            }
        )
    same = sum(m["identical"] for m in report.masks)
    report.check(
        "bundle masks match the package's",
        worst >= DICE_MIN,
        f"{same}/{len(samples)} identical, lowest Dice {worst:.6f} (need >= {DICE_MIN})",
    )


def window_up_s(r: Run) -> float | None:
    """Seconds from starting the program to its window on screen, as the self-test reports it
    (`self-test window up at <time.time()>`)."""
    m = re.search(r"^self-test window up at ([\d.]+)$", r.out, re.M)
    return round(float(m.group(1)) - r.started, 3) if m else None


def check_gui(report: Report, bundle: Path, tmp: Path, cpu: bool = False) -> None:
    gui = bundle / f"carmask-studio{EXE_SUFFIX}"
    env = clean_env(tmp, gui=True)
    runs = [run([gui, "--self-test"], env, timeout=180) for _ in range(3)]
    st = runs[-1]
    line = next((s for s in st.out.splitlines() if s.startswith("self-test ok")), "") or next(
        (s for s in st.out.splitlines() if s.startswith("self-test")), ""
    )
    ups = [u for u in map(window_up_s, runs) if u is not None]
    report.timings["gui_window_up_s"] = ups
    report.timings["gui_window_up_median_s"] = statistics.median(ups) if ups else None
    report.timings["gui_self_test_s"] = round(st.seconds, 3)
    report.notes["gui_self_test_line"] = line
    report.check(
        "gui --self-test",
        st.rc == 0 and line.startswith("self-test ok"),
        f"{st.seconds:.2f} s to exit: {line}" if st.rc == 0 else f"rc {st.rc}: {_tail(st)}",
    )
    if cpu:
        report.check(
            "gui: the CPU edition's device line names OpenVINO",
            "OpenVINO, float32" in line,
            line,
        )
    th = run([gui, "--engine-train", "--help"], env, timeout=120)
    report.timings["gui_engine_train_help_s"] = round(th.seconds, 3)
    if cpu:  # no PyTorch: training is refused by name, no traceback
        report.check(
            "gui --engine-train: refused, needs the full edition",
            th.rc == 2 and "needs the full edition" in th.err and "Traceback" not in th.err,
            f"rc {th.rc}: {_tail(th, 300)}",
        )
        return
    report.check(
        "gui --engine-train --help",
        th.rc == 0 and "--config" in th.out,
        f"{th.seconds:.2f} s" if th.rc == 0 else f"rc {th.rc}: {_tail(th)}",
    )


def one_step_runs(data: Path, model: Path, tmp: Path) -> dict[str, dict]:
    """Training configs for one real step each: fine-tuning `model` (what the wizard does) and
    a new Lite0 model from the ImageNet weights. Shared with module_census.py."""
    common = dict(
        data=str(data / "train"),
        val_data=str(data / "val"),
        epochs=1,
        max_steps=1,
        batch_size=2,
        max_val_photos=2,
        device="cpu",
        input_size=[64, 96],
    )
    return {
        "fine-tune the shipped model": dict(
            common,
            out=str(tmp / "ft.safetensors"),
            init_from=str(model),
            pretrained=None,
            size_from_base=False,
        ),
        "new Lite0 model from ImageNet weights": dict(
            common,
            out=str(tmp / "new.safetensors"),
            preset="cpu-lite0-256x384",
            pretrained="imagenet",
        ),
    }


def check_training(report: Report, bundle: Path, tmp: Path) -> None:
    """One real training step through the frozen training child, twice: fine-tuning the
    shipped model (what the wizard does) and a new Lite0 model from ImageNet weights (which
    come from the efficientnet-lite0 package's data files). In a bundle the wizard starts
    the console CLI with `--engine-train` (engine.training.finetune.child_command), so that
    is what runs."""
    data = ROOT / "tests" / "data" / "carvana"
    if not (data / "train").is_dir():
        report.notes["training"] = "skipped: tests/data/carvana is not here"
        return
    cli = bundle / f"carmask{EXE_SUFFIX}"
    env = clean_env(tmp)
    models = bundle / "_internal" / "resources" / "models"
    model = models / json.loads((models / "manifest.json").read_text())["default"]
    runs = one_step_runs(data, model, tmp)
    for i, (name, cfg) in enumerate(runs.items()):
        path = tmp / f"train{i}.json"
        path.write_text(json.dumps(cfg))
        r = run([cli, "--engine-train", "--config", path], env, timeout=600)
        events = [json.loads(s) for s in r.out.splitlines() if s.startswith("{")]
        done = [e for e in events if e.get("event") == "done"]
        errors = [e.get("message", "") for e in events if e.get("event") == "error"]
        report.timings[f"train_one_step_{i}_s"] = round(r.seconds, 2)
        report.check(
            f"cli --engine-train: {name}",
            r.rc == 0 and bool(done) and Path(cfg["out"]).is_file() and "Warning" not in r.err,
            f"{r.seconds:.1f} s, {len(events)} events"
            if r.rc == 0 and done
            else f"rc {r.rc}: {errors or _tail(r)}",
        )


def check_libraries(report: Report, bundle: Path) -> None:
    """ldd every ELF file: what it needs must resolve inside the bundle or on the system
    (never from a Python installation); the only libraries allowed missing are the NVIDIA
    driver's (absent on machines without an NVIDIA GPU)."""
    if not sys.platform.startswith("linux"):
        report.notes["libraries"] = "skipped (ldd: Linux only)"
        return
    internal = (bundle / "_internal").resolve()
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(internal)}  # as the bootloader sets
    pythons = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    outside: set[str] = set()
    missing: dict[str, str] = {}
    from_python: set[str] = set()
    elves = []
    for f in sorted(bundle.rglob("*")):
        if f.is_file() and not f.is_symlink():
            with open(f, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    elves.append(f)
    for f in elves:
        r = run(["ldd", f], env, timeout=60)
        for line in r.out.splitlines():
            m = re.match(r"\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", line)
            if not m:
                continue
            name, where = m.groups()
            if where == "not found":
                missing.setdefault(name, f.relative_to(bundle).as_posix())
                continue
            path = Path(where).resolve()
            if internal in path.parents:
                continue
            outside.add(str(path))
            if any(p in path.parents for p in pythons if str(p) not in ("/", "/usr")) or (
                "site-packages" in path.parts
            ):
                from_python.add(str(path))
    # torchvision's operator library names libtorch & co without a search path: at run time
    # torch has loaded them already; what matters is that they are in the bundle
    in_bundle = {f.name for f in elves}
    preloaded = sorted(n for n in missing if n in in_bundle)
    missing = {n: f for n, f in missing.items() if n not in in_bundle}
    unexpected = {n: f for n, f in missing.items() if not n.startswith(DRIVER_LIBS)}
    wrong_family = [p for p in outside if Path(p).name.startswith(BUNDLED_FAMILIES)]
    report.libraries = {
        "elf_files": len(elves),
        "system_libraries": sorted(outside),
        "missing_driver_libraries": sorted(n for n in missing if n.startswith(DRIVER_LIBS)),
        "resolved_by_already_loaded_bundle_libraries": preloaded,
        "missing_other": unexpected,
        "from_python": sorted(from_python),
        "bundled_family_from_system": sorted(wrong_family),
    }
    report.check(
        "libraries resolve inside the bundle or the system, none from Python",
        not from_python
        and not wrong_family
        and not [n for n in unexpected if n.startswith(BUNDLED_FAMILIES)],
        f"{len(elves)} ELF files; system libraries used: {len(outside)}; "
        f"not on the system (driver, desktop libraries): {sorted(missing) or 'none'}"
        + (f"; FROM PYTHON: {sorted(from_python)}" if from_python else "")
        + (f"; SHOULD BE BUNDLED: {wrong_family}" if wrong_family else ""),
    )


def environment(bundle: Path) -> dict:
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_built_with": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    import importlib.metadata as md

    for dist in ("torch", "torchvision", "PySide6-Essentials", "pyinstaller"):
        with contextlib.suppress(md.PackageNotFoundError):
            info[dist] = md.version(dist)
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin:  # the build (CUDA or CPU) without importing torch
        text = (Path(spec.origin).parent / "version.py").read_text()
        build = re.search(r"^__version__ = '([^']+)'", text, re.M)
        cuda = re.search(r"^cuda: .*= '([^']+)'", text, re.M)
        info["torch_build"] = build.group(1) if build else None
        info["torch_cuda"] = cuda.group(1) if cuda else None
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--samples", type=int, default=3, help="sample photos to compare")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (both sides)")
    parser.add_argument("--no-train", action="store_true", help="skip the training steps")
    parser.add_argument("--json", type=Path, help="write sizes, timings and results here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a no-exclusions build (build.py --baseline): report what the exclusions save",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also record the size of another build (e.g. cpu-only=build/cpu-dist/...)",
    )
    args = parser.parse_args(argv)
    variants = {}
    for item in args.variant:
        name, _, folder = item.partition("=")
        sizes = bundle_sizes(Path(folder).resolve())
        sizes["parts"] = sizes["parts"][:12]
        sizes["largest_files"] = sizes["largest_files"][:5]
        variants[name] = sizes
        print(format_sizes(sizes).replace("bundle:", f"variant {name}:", 1))
    report = run_checks(args.bundle, args.samples, args.device, train=not args.no_train)
    savings = None
    if args.baseline:
        savings = exclusion_savings(args.baseline.resolve(), args.bundle.resolve())
        print(format_savings(savings))
    if args.json:
        write_json(args.json, args.bundle, report, savings, variants)
    failed = [k for k, ok in report.checks.items() if not ok]
    print(
        f"smoke check: {len(report.checks) - len(failed)}/{len(report.checks)} passed"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed or not report.checks else 0


def is_cpu_edition(bundle: Path) -> bool:
    return (bundle / "_internal" / "resources" / "converted").is_dir()


def check_cpu_edition(report: Report, bundle: Path, tmp: Path) -> None:
    """The CPU edition holds no PyTorch and no CUDA library, carries every shipped model
    converted, and refuses fine-tuning by name."""
    internal = bundle / "_internal"
    heavy = sorted(
        p.relative_to(bundle).as_posix()
        for p in internal.rglob("*")
        if p.name.startswith(("libtorch", "libc10", "libcudnn", "libcublas", "libcudart"))
        or p.name in ("torch", "torchvision", "nvidia", "triton")
    )
    report.check("cpu edition: no PyTorch, no CUDA", not heavy, ", ".join(heavy[:5]) or "none")
    models = sorted(p.stem for p in (internal / "resources" / "models").glob("*.safetensors"))
    converted = sorted(p.name for p in (internal / "resources" / "converted").iterdir())
    report.check(
        "cpu edition: every shipped model converted",
        models == converted,
        f"{len(converted)} of {len(models)}",
    )
    cli = bundle / f"carmask{EXE_SUFFIX}"
    ft = run(
        [cli, "finetune", "--model", "x", "--data", tmp, "--out", tmp / "m.safetensors"],
        clean_env(tmp),
        timeout=120,
    )
    report.check(
        "cpu edition: fine-tuning refused by name",
        ft.rc == 2 and "fine-tuning needs the full edition" in ft.err,
        _tail(ft, 300),
    )


def run_checks(bundle: Path, n_samples: int = 3, device: str = "auto", train: bool = True):
    bundle = bundle.resolve()
    report = Report()
    for name in ("carmask", "carmask-studio"):
        exe = bundle / f"{name}{EXE_SUFFIX}"
        if not report.check(f"{name} executable exists", exe.is_file(), str(exe)):
            return report
    samples = sorted((ROOT / "resources" / "samples").glob("*.jpg"))[:n_samples]
    cpu = is_cpu_edition(bundle)
    report.notes["edition"] = "cpu" if cpu else "full"
    with tempfile.TemporaryDirectory(prefix="carmask-smoke-") as tmp:
        tmp = Path(tmp)
        check_cli(report, bundle, tmp, samples, device)
        check_gui(report, bundle, tmp, cpu)
        if cpu:
            check_cpu_edition(report, bundle, tmp)
        elif train:
            check_training(report, bundle, tmp)
        check_libraries(report, bundle)
    return report


def write_json(
    path: Path,
    bundle: Path,
    report: Report,
    savings: dict | None = None,
    variants: dict | None = None,
) -> None:
    data = {
        "benchmark": "bundle",
        "environment": environment(bundle),
        "bundle": bundle_sizes(bundle.resolve()),
        "timings": report.timings,
        "masks": report.masks,
        "checks": report.checks,
        "notes": report.notes,
        "libraries": report.libraries,
    }
    old = json.loads(path.read_text()) if path.is_file() else {}
    if savings is not None:
        data["exclusions"] = savings
    if variants:
        data["variants"] = variants
    for key in ("exclusions", "variants"):  # measured separately: keep the last measurement
        if key in old and key not in data:
            data[key] = old[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
