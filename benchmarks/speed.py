"""End-to-end speed: seconds per photo from JPEG to mask PNG on disk, engine against a baseline.

Both pipelines use the same model object (same weights) on the same photos, in the same run:

- engine: what `carmask predict --format mask` does for each photo (`--cutout`: also
  `--format png`), one photo at a time: `engine.batch.photo.process_photo` (the photo read once),
  `Predictor.predict_matte` (the main car with its soft edge; OpenCV resize to the model's input
  size, fp16 autocast on CUDA and bf16 on a CPU that has it natively unless `--precision fp32`,
  logits upsampled to full size and thresholded in torch), then
  `engine.batch.export.export_photo` (atomic PNG writes at the export's zlib level).
- baseline: the same model written the straightforward way: Pillow decode and bilinear resize,
  float32 forward, sigmoid, probability map upsampled to full size, threshold, and Pillow's
  default PNG save (zlib level 6) straight onto the output path. It does not run the model
  file's edge refiner (`engine.models.refiner`): for a refined model the ratio shows what the
  refiner costs, and "masks agree" how much it changes.

The photos are read once beforehand (so both find them in the OS cache), each pipeline runs
`--warmup` untimed photos, then the N photos are timed with the two pipelines alternating which
goes first. Reported: median (and min/max) seconds per photo for read/predict/write and in
total, images/s of the sequential loop (Predictor takes one photo at a time: no batching),
peak memory, and the engine/baseline ratio.

With several models (`--model` more than once, or `--ensemble` for the shipped ensemble) both
pipelines run every model on the photo and take the majority vote of their masks.

    python benchmarks/speed.py --model runs/default/model.safetensors -n 20
    python benchmarks/speed.py --ensemble --device cpu -n 10
    python benchmarks/speed.py --device cpu --threads 1 -n 5 --cutout --out /tmp/speed.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _path in (REPO, HERE):  # run from a checkout without `pip install -e .`; forward.py beside
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import forward  # noqa: E402  (benchmarks/forward.py: RSS helpers)

from engine import __version__  # noqa: E402
from engine.batch.export import ExportOptions  # noqa: E402
from engine.batch.outputs import OutputPlan  # noqa: E402
from engine.batch.photo import PhotoJob, exporting, process_photo  # noqa: E402
from engine.inference.devices import PRECISION_CHOICES, DeviceError, resolve_device  # noqa: E402
from engine.inference.ensemble import combine  # noqa: E402
from engine.inference.predict import LoadedModel, Predictor  # noqa: E402
from engine.io import atomic_write_bytes, find_images  # noqa: E402
from engine.modelfiles.checkpoint import ModelFileError, load_model, read_header  # noqa: E402
from engine.modelfiles.library import NoModelError, chosen_model_paths  # noqa: E402
from engine.training.metrics import dice  # noqa: E402

DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "carvana" / "val"
PIPELINES = ("baseline", "engine")
STAGES = ("read", "predict", "write")
MB = 1024 * 1024


# --- the two pipelines --------------------------------------------------------------------------


class Baseline:
    """The same models without the optimisations: Pillow in and out, fp32, probability upsampled
    (several models: the same majority vote as the engine, `engine.inference.ensemble.combine`)."""

    def __init__(self, lms: list[LoadedModel], device: torch.device, cutout: bool):
        self.lms, self.device, self.cutout = lms, device, cutout

    def _prob(self, lm: LoadedModel, img: Image.Image) -> np.ndarray:
        h, w = lm.header.input_size
        small = np.array(img.resize((w, h), Image.Resampling.BILINEAR))
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(255.0).to(self.device)
        prob = torch.sigmoid(lm.model(lm.model.normalize(x)))
        prob = F.interpolate(
            prob, size=(img.height, img.width), mode="bilinear", align_corners=False
        )
        return prob[0, 0].cpu().numpy()

    @torch.inference_mode()
    def __call__(self, path: Path, out_dir: Path) -> tuple[dict, np.ndarray]:
        t0 = time.perf_counter()
        with Image.open(path) as im:
            img = im.convert("RGB")
        t1 = time.perf_counter()
        probs = [self._prob(lm, img) for lm in self.lms]
        mask = combine(probs, [lm.header.threshold for lm in self.lms])
        t2 = time.perf_counter()
        alpha = mask.astype(np.uint8) * 255
        Image.fromarray(alpha).save(out_dir / f"{path.stem}_mask.png")
        if self.cutout:
            rgba = np.dstack([np.asarray(img), alpha])
            Image.fromarray(rgba).save(out_dir / f"{path.stem}.png")
        t3 = time.perf_counter()
        return {"read": t1 - t0, "predict": t2 - t1, "write": t3 - t2, "total": t3 - t0}, mask


class Engine:
    """What `carmask predict` does for each photo: `engine.batch.photo.process_photo` (the
    photo read once, `Predictor.predict_matte`, `export_photo`), one photo at a time."""

    def __init__(
        self,
        lms: list[LoadedModel],
        device: torch.device,
        cutout: bool,
        precision: str = "auto",
        backend: str = "torch",
    ):
        self.predictor = Predictor(lms, device=str(device), precision=precision, backend=backend)
        self.options = ExportOptions(formats=("mask", "png") if cutout else ("mask",))

    def __call__(self, path: Path, out_dir: Path) -> tuple[dict, np.ndarray]:
        export = exporting(out_dir, self.options, OutputPlan(self.options.formats, [path]))
        clock = _Clocked(self.predictor)
        written: dict[str, float] = {}

        def write(job, photo, matte):
            t = time.perf_counter()
            files = export(job, photo, matte)
            written["write"] = time.perf_counter() - t
            return files

        t0 = time.perf_counter()
        result = process_photo(PhotoJob(path), clock, write)
        total = time.perf_counter() - t0
        if result.matte is None:
            raise RuntimeError(f"{path}: {result.reason}")
        read = total - clock.seconds - written["write"]
        times = {"read": read, "predict": clock.seconds, "write": written["write"]}
        return {**times, "total": total}, result.matte.mask


class _Clocked:
    """The predictor, timing its `predict_matte` (a numpy result: the device is synchronised)."""

    def __init__(self, predictor: Predictor):
        self.predictor, self.label, self.seconds = predictor, predictor.label, 0.0

    def predict_matte(self, rgb: np.ndarray, checked: bool = False):
        t = time.perf_counter()
        matte = self.predictor.predict_matte(rgb, checked=checked)
        self.seconds = time.perf_counter() - t
        return matte


# --- measurement --------------------------------------------------------------------------------


def _peak_memory(run, path: Path, out_dir: Path, device: torch.device) -> dict:
    """Memory of one more (untimed) photo: CUDA allocator peak, or sampled RSS on CPU."""
    forward._release_freed_memory()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        run(path, out_dir)
        return {
            "peak_mb": torch.cuda.max_memory_allocated(device) / MB,
            "peak_memory": "torch.cuda.max_memory_allocated during one photo",
        }
    before = forward._rss_bytes()
    with forward.RssSampler(interval=0.002) as sampler:
        run(path, out_dir)
    if sampler.peak is None or before is None:
        return {"peak_mb": None, "peak_memory": "unavailable (no /proc/self/statm)"}
    return {
        "peak_mb": sampler.peak / MB,
        "extra_mb": (sampler.peak - before) / MB,
        "peak_memory": "sampled process RSS peak during one photo (extra_mb: above RSS before)",
    }


def _summarise(times: list[dict], sizes: list[int]) -> dict:
    row = {}
    for stage in (*STAGES, "total"):
        values = [t[stage] for t in times]
        row[f"{stage}_s"] = statistics.median(values)
    totals = [t["total"] for t in times]
    row.update(
        min_s=min(totals),
        max_s=max(totals),
        images_per_s=len(totals) / sum(totals),
        output_kb=statistics.mean(sizes) / 1024,
        times_s=totals,
    )
    return row


def _output_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def bench_device(paths: list[Path], device: torch.device, photos: list[Path], args) -> list[dict]:
    """Both pipelines on one device: one row each, with the engine/baseline ratio."""
    lms = [LoadedModel(*load_model(path, device), path) for path in paths]
    runs = {
        "baseline": Baseline(lms, device, args.cutout),
        "engine": Engine(lms, device, args.cutout, args.precision, args.backend),
    }
    label = runs["engine"].predictor.device_label
    print(f"\n{label}", flush=True)
    times: dict[str, list[dict]] = {k: [] for k in PIPELINES}
    sizes: dict[str, list[int]] = {k: [] for k in PIPELINES}
    agree = []
    with tempfile.TemporaryDirectory(prefix="carmask-speed-") as tmp:
        folders = {k: Path(tmp, k) for k in PIPELINES}
        for f in folders.values():
            f.mkdir()
        for i in range(args.warmup):
            for k in PIPELINES:
                runs[k](photos[i % len(photos)], folders[k])
        for i, photo in enumerate(photos):
            order = PIPELINES if i % 2 == 0 else PIPELINES[::-1]
            masks = {}
            for k in order:
                out = Path(folders[k], f"{i:04d}")
                out.mkdir()
                t, masks[k] = runs[k](photo, out)
                times[k].append(t)
                sizes[k].append(_output_bytes(out))
            agree.append(dice(masks["engine"], masks["baseline"]))
            if not args.quiet:
                print(
                    f"  {i + 1:>3}/{len(photos)} {photo.name}: baseline "
                    f"{times['baseline'][-1]['total']:.3f} s, engine "
                    f"{times['engine'][-1]['total']:.3f} s",
                    flush=True,
                )
        memory = {}
        for k in PIPELINES:
            out = Path(folders[k], "memory")
            out.mkdir()
            memory[k] = _peak_memory(runs[k], photos[0], out, device)
    rows = []
    for k in PIPELINES:
        rows.append(
            {
                "device": str(device),
                "device_label": label,
                "pipeline": k,
                "threads": torch.get_num_threads(),
                **_summarise(times[k], sizes[k]),
                **memory[k],
            }
        )
    base, eng = rows
    eng["ratio"] = eng["total_s"] / base["total_s"]
    eng["speedup"] = base["total_s"] / eng["total_s"]
    eng["mask_dice_vs_baseline"] = float(np.mean(agree))
    del runs, lms
    forward._release_freed_memory()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


# --- output -------------------------------------------------------------------------------------


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'device':<32} {'pipeline':<9} {'read s':>7} {'predict s':>9} {'write s':>8} "
        f"{'total s':>8} {'min s':>7} {'max s':>7} {'img/s':>6} {'peak MB':>8} {'+MB':>5} "
        f"{'out KB':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['device_label'][:32]:<32} {r['pipeline']:<9} {r['read_s']:>7.4f} "
            f"{r['predict_s']:>9.4f} {r['write_s']:>8.4f} {r['total_s']:>8.4f} {r['min_s']:>7.4f} "
            f"{r['max_s']:>7.4f} {r['images_per_s']:>6.2f} {_fmt(r.get('peak_mb'), '8.0f'):>8} "
            f"{_fmt(r.get('extra_mb'), '5.0f'):>5} {r['output_kb']:>7.0f}"
        )
        if "ratio" in r:
            print(
                f"{'':<32} engine/baseline = {r['ratio']:.2f} ({r['speedup']:.2f}x the speed); "
                f"masks agree: Dice {r['mask_dice_vs_baseline']:.5f}"
            )


def environment(threads: int) -> dict:
    env = {
        "engine": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "cuda_available": torch.cuda.is_available(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if torch.cuda.is_available():
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


# --- command line -------------------------------------------------------------------------------


def _all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        metavar="FILE",
        action="append",
        help="model file (default: the shipped default); several: their majority vote",
    )
    p.add_argument("--ensemble", action="store_true", help="the shipped ensemble")
    p.add_argument("--photos", default=str(DEFAULT_PHOTOS), help="folder (or file) of photos")
    p.add_argument("-n", type=forward._positive, default=20, help="timed photos (default 20)")
    p.add_argument("--warmup", type=forward._non_negative, default=2, help="untimed photos first")
    p.add_argument(
        "--device",
        default="all",
        choices=("cpu", "cuda", "all"),
        help="all (default): CPU, and CUDA when present",
    )
    p.add_argument(
        "--threads", type=forward._positive, help="torch CPU threads (default: all cores)"
    )
    p.add_argument("--cutout", action="store_true", help="also write the RGBA cutout PNG")
    p.add_argument(
        "--backend",
        choices=("torch", "openvino"),
        default="torch",
        help="the engine's backend (default torch: the models are loaded once, in memory)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="the engine's (as for carmask predict; the baseline is always float32)",
    )
    p.add_argument("--out", help="JSON path (default benchmarks/results/speed-<device>.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per photo")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    threads = args.threads or _all_cores()
    torch.set_num_threads(threads)
    try:
        paths = chosen_model_paths(args.model, args.ensemble)
        devices = [resolve_device("cpu")] if args.device in ("cpu", "all") else []
        if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
            devices.append(resolve_device("cuda"))
    except (NoModelError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    photos, _ = find_images([args.photos])
    photos = [p for p in photos if p.suffix.lower() in (".jpg", ".jpeg")][: args.n]
    if not photos:
        print(f"error: no JPEG photos in {args.photos}", file=sys.stderr)
        return 1
    for p in photos:  # into the OS cache: neither pipeline pays for the first read from disk
        p.read_bytes()
    with Image.open(photos[0]) as im:
        photo_size = f"{im.width}x{im.height}"
    print(
        f"{len(photos)} photos ({photo_size}) from {args.photos}, warm-up {args.warmup}, "
        f"{threads} CPU threads, outputs: mask PNG{' + cutout PNG' if args.cutout else ''}",
        flush=True,
    )

    rows = []
    try:
        for device in devices:
            rows += bench_device(paths, device, photos, args)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print_table(rows)

    models = []
    for path in paths:
        header = read_header(path)
        models.append(
            {
                "name": header.name,
                "file": str(path.resolve()),
                "sha256": header.sha256,
                "input_size": list(header.input_size),
                "encoder": header.arch.encoder,
            }
        )
    report = {
        "benchmark": "speed",
        "environment": environment(threads),
        "model": models[0] if len(models) == 1 else {"ensemble": models, "vote": "majority"},
        "settings": {
            "photos": str(Path(args.photos).resolve()),
            "n": len(photos),
            "photo_size": photo_size,
            "warmup": args.warmup,
            "threads": threads,
            "cutout": args.cutout,
            "precision": args.precision,
            "backend": args.backend,
            "batching": False,  # Predictor takes one photo at a time: images/s is the loop's
        },
        "rows": rows,
    }
    label = "-".join(d.type for d in devices)
    out = Path(args.out or REPO / "benchmarks" / "results" / f"speed-{label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(report, indent=2) + "\n").encode())
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
