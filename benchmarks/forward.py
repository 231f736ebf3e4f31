"""Forward-pass benchmark: time per photo and peak memory for each encoder and input size.

For each (encoder, size) a U-Net with random weights (pretrained=None) runs in eval mode under
torch.inference_mode() on one device: `--warmup` untimed forwards, then `--repeats` timed ones.
On CUDA the model runs under fp16 autocast as engine.inference.predict does, and the same model is
also
timed in plain float32 as a baseline; on CPU the baseline is resnet18 at the same size.

    python benchmarks/forward.py --encoders resnet18,resnet50 --sizes 1024x1024 --repeats 5

Sizes are HEIGHTxWIDTH. Only the network forward is timed (the input is already normalised and
on the device): no image decoding, resizing or upsampling of the logits.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from engine.inference.devices import (  # noqa: E402
    DEVICE_CHOICES,
    DeviceError,
    describe_device,
    resolve_device,
)
from engine.models.encoders import ENCODERS  # noqa: E402
from engine.models.unet import JOIN_MODES, UNet, UNetConfig  # noqa: E402

DEFAULT_ENCODERS = "resnet18,resnet34,resnet50,vgg16,efficientnet_lite0"
DEFAULT_SIZES = "1024x1024,1280x1920"
RATIO_REFERENCE = "resnet18"
MB = 1024 * 1024


# --- CPU memory: peak resident set size ---------------------------------------------------------


def _rss_bytes() -> int | None:
    """Current resident set size from /proc/self/statm (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError, IndexError):
        return None


def _maxrss_bytes() -> int | None:
    """Process high-water mark of RSS (ru_maxrss: KiB on Linux, bytes on macOS), else None."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _release_freed_memory() -> None:
    """Give freed heap back to the OS (glibc only) so the next baseline is not inflated."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


class RssSampler:
    """Samples RSS every `interval` seconds in a thread; `peak` is the highest value seen.

    Without /proc/self/statm (not Linux) it does nothing and `peak` stays None.
    """

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak = interval, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            rss = _rss_bytes()
            if rss is None:
                return
            self.peak = rss if self.peak is None else max(self.peak, rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        rss = _rss_bytes()  # one last sample after the final forward
        if rss is not None:
            self.peak = rss if self.peak is None else max(self.peak, rss)


# --- measurement --------------------------------------------------------------------------------


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    msg = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in msg or "can't allocate memory" in msg or "not enough memory" in msg
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_forwards(model, x, device, autocast: bool, warmup: int, repeats: int) -> list[float]:
    """Seconds per forward (whole batch) for `repeats` timed forwards after `warmup` ones."""
    times = []
    with (
        torch.inference_mode(),
        torch.autocast("cuda", dtype=torch.float16, enabled=autocast),
    ):
        for _ in range(warmup):
            model(x)
        _sync(device)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            _sync(device)
            times.append(time.perf_counter() - start)
    return times


def _summarise(times: list[float], batch: int) -> dict:
    median = statistics.median(times)
    return {
        "median_s": median / batch,
        "min_s": min(times) / batch,
        "max_s": max(times) / batch,
        "photos_per_s": batch / median,
    }


def bench_config(encoder, size, args, device) -> list[dict]:
    """One (encoder, size): one row on CPU; fp16-autocast and fp32 rows on CUDA."""
    h, w = size
    base = {"encoder": encoder, "size": f"{h}x{w}", "height": h, "width": w, "batch": args.batch}
    cuda = device.type == "cuda"
    precisions = ("fp16-autocast", "fp32") if cuda else ("fp32",)
    rows, model, x = [], None, None
    _release_freed_memory()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss_before, maxrss_before = _rss_bytes(), _maxrss_bytes()
    try:
        model = UNet(UNetConfig(encoder=encoder, join=args.join), pretrained=None)
        model = model.to(device).eval()
        params_m = sum(p.numel() for p in model.parameters()) / 1e6
        x = model.normalize(torch.rand(args.batch, 3, h, w, device=device))
    except Exception as exc:
        if not _is_oom(exc):
            raise
        rows = [{**base, "precision": p, "error": "out of memory"} for p in precisions]
        for row in rows:
            print(_progress_line(row), flush=True)
        model = x = None
        precisions = ()

    for precision in precisions:
        row = {**base, "precision": precision, "params_m": params_m}
        try:
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
            with RssSampler() as sampler:
                times = _time_forwards(
                    model, x, device, precision != "fp32", args.warmup, args.repeats
                )
            row.update(_summarise(times, args.batch))
            row["times_s"] = times
            if cuda:
                row["peak_mb"] = torch.cuda.max_memory_allocated(device) / MB
                row["peak_memory"] = "torch.cuda.max_memory_allocated"
            else:
                maxrss_after = _maxrss_bytes()
                if maxrss_before is not None and maxrss_after is not None:
                    row["maxrss_increase_mb"] = (maxrss_after - maxrss_before) / MB
                if sampler.peak is not None and rss_before is not None:
                    row["peak_mb"] = (sampler.peak - rss_before) / MB
                    row["peak_memory"] = "sampled RSS peak minus RSS before the config"
                else:
                    row["peak_mb"] = row.get("maxrss_increase_mb")
                    row["peak_memory"] = "ru_maxrss increase"
        except Exception as exc:
            if not _is_oom(exc):
                raise
            row = {**base, "precision": precision, "error": "out of memory"}
        rows.append(row)
        print(_progress_line(row), flush=True)

    del model, x
    _release_freed_memory()
    if cuda:
        torch.cuda.empty_cache()
    return rows


def add_ratios(rows: list[dict], cuda: bool) -> None:
    """`ratio`: median over the baseline's median (<1 is faster than the baseline).

    CUDA: baseline is the fp32 run of the same encoder and size.
    CPU: baseline is resnet18 at the same size (None when resnet18 was not run).
    """
    ok = [r for r in rows if "error" not in r]
    if cuda:
        ref = {(r["encoder"], r["size"]): r["median_s"] for r in ok if r["precision"] == "fp32"}
        for r in ok:
            base = ref.get((r["encoder"], r["size"]))
            r["ratio"] = r["median_s"] / base if base else None
            r["ratio_to"] = "fp32 of same encoder and size"
    else:
        ref = {r["size"]: r["median_s"] for r in ok if r["encoder"] == RATIO_REFERENCE}
        for r in ok:
            base = ref.get(r["size"])
            r["ratio"] = r["median_s"] / base if base else None
            r["ratio_to"] = f"{RATIO_REFERENCE} at same size"


# --- output -------------------------------------------------------------------------------------


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _progress_line(row: dict) -> str:
    head = f"  {row['encoder']:<19} {row['size']:>10} {row['precision']:<13}"
    if "error" in row:
        return f"{head} {row['error']}"
    return (
        f"{head} median {row['median_s']:.4f} s/photo, {row['photos_per_s']:.2f} photos/s, "
        f"peak {_fmt(row.get('peak_mb'), '.0f')} MB"
    )


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'encoder':<19} {'size':>10} {'precision':<13} {'median s':>9} {'min s':>8} "
        f"{'max s':>8} {'photos/s':>9} {'ratio':>6} {'peak MB':>8} {'params M':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        lead = f"{r['encoder']:<19} {r['size']:>10} {r['precision']:<13}"
        if "error" in r:
            print(f"{lead} {r['error']}")
            continue
        print(
            f"{lead} {r['median_s']:>9.4f} {r['min_s']:>8.4f} {r['max_s']:>8.4f} "
            f"{r['photos_per_s']:>9.2f} {_fmt(r.get('ratio'), '6.2f'):>6} "
            f"{_fmt(r.get('peak_mb'), '8.0f'):>8} {r['params_m']:>9.2f}"
        )


def environment(device: torch.device, label: str) -> dict:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_label": label,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


# --- command line -------------------------------------------------------------------------------


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, not {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, not {text!r}")
    return h, w


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encoders", default=DEFAULT_ENCODERS, help="comma-separated encoder names")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated HEIGHTxWIDTH")
    p.add_argument("--join", default="concat", choices=JOIN_MODES)
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)}")
    p.add_argument("--repeats", type=_positive, default=5, help="timed forwards per config")
    p.add_argument("--warmup", type=_non_negative, default=1, help="untimed forwards first")
    p.add_argument("--batch", type=_positive, default=1, help="photos per forward")
    p.add_argument("--threads", type=_positive, default=None, help="torch CPU threads")
    p.add_argument("--out", default=None, help="JSON path (benchmarks/results/forward-<dev>.json)")
    args = p.parse_args(argv)
    args.encoders = _csv(args.encoders)
    unknown = [e for e in args.encoders if e not in ENCODERS]
    if unknown or not args.encoders:
        p.error(f"unknown encoder(s) {unknown}; choose from {', '.join(ENCODERS)}")
    try:
        args.sizes = [_size(s) for s in _csv(args.sizes)]
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if not args.sizes:
        p.error("no sizes given")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = resolve_device(args.device)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    label = describe_device(device)
    print(f"device: {label}", flush=True)
    env = environment(device, label)
    print(
        f"torch {env['torch']}, {env['cpu_count']} CPUs, {env['threads']} torch threads, "
        f"join={args.join}, batch={args.batch}, warmup={args.warmup}, repeats={args.repeats}",
        flush=True,
    )

    rows = []
    for size in args.sizes:
        for encoder in args.encoders:
            rows.extend(bench_config(encoder, size, args, device))
    add_ratios(rows, device.type == "cuda")

    print()
    print_table(rows)
    if device.type == "cpu" and RATIO_REFERENCE not in args.encoders:
        print(f"(ratio needs {RATIO_REFERENCE} in --encoders)")

    out = Path(args.out or REPO / "benchmarks" / "results" / f"forward-{device.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(args, k) for k in ("join", "batch", "warmup", "repeats", "threads")}
    settings.update(encoders=args.encoders, sizes=[f"{h}x{w}" for h, w in args.sizes])
    report = {"benchmark": "forward", "environment": env, "settings": settings, "rows": rows}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
