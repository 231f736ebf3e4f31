"""Where a photo's time goes: the stages of `carmask predict` one by one, per backend/precision.

For each configuration (PyTorch and OpenVINO, float32 and bfloat16), on the same photos
(Carvana val, 1918×1280), the shipped default model (U-Net + edge refiner): median ms of

    read (JPEG decode), resize (to the model's input, normalised), U-Net, upsample (logits to
    full size), refiner, threshold, encode (the RGBA cutout PNG, zlib level 1), write (atomic)

and their sum. Also the floor: the U-Net's FLOPs at its input size (torch's FlopCounterMode)
against this CPU's measured peak (a large matmul with the same threads, float32 and bfloat16).

    python benchmarks/stages.py [-n 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.batch.export import cutout_rgba
from engine.inference.devices import cpu_has_fast_bf16
from engine.inference.predict import Predictor
from engine.io import atomic_write_bytes, atomic_write_json, read_photo
from engine.modelfiles.library import default_model_paths

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "carvana" / "val"
STAGES = ("read", "resize", "unet", "upsample", "refiner", "threshold", "encode", "write")
CONFIGS = (("torch", "fp32"), ("torch", "bf16"), ("openvino", "fp32"), ("openvino", "bf16"))


def stage_times(predictor: Predictor, path: Path, out: Path) -> dict[str, float]:
    """One photo through the predictor's public steps (`Predictor.full_size_logits`'s, then its
    threshold) and `export_photo`'s stages."""
    lm, t = predictor.models[0], {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        t[name], clock = now - clock, now

    with torch.inference_mode():
        rgb = read_photo(path).rgb
        lap("read")
        x, content = predictor.prepare(lm, rgb)
        lap("resize")
        logits = predictor.forward(lm, x, content)
        lap("unet")
        logits = predictor.upsample(logits, rgb.shape[:2])
        lap("upsample")
        logits = predictor.refine_edges(lm, rgb, logits)
        lap("refiner")
        mask = predictor.threshold(logits)
        lap("threshold")
        buffer = io.BytesIO()
        Image.fromarray(cutout_rgba(rgb, mask)).save(buffer, format="PNG", compress_level=1)
        lap("encode")
        atomic_write_bytes(out / f"{path.stem}.png", buffer.getvalue())
        lap("write")
    return t


def peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def unet_gflop(predictor: Predictor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    lm = predictor.models[0]
    x = torch.zeros(1, 3, *lm.header.input_size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        lm.model(x)
    return counter.get_total_flops() / 1e9


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    p.add_argument("-n", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=here / "results" / "stages-cpu.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    photos = sorted(args.photos.glob("*.jpg"))[: args.n]
    for f in photos:
        f.read_bytes()
    out = Path(tempfile.mkdtemp(prefix="carmask-stages-"))
    model = default_model_paths()
    predictors = {
        f"{b} {pr}": Predictor(model, device="cpu", precision=pr, backend=b) for b, pr in CONFIGS
    }
    times: dict[str, list[dict[str, float]]] = {name: [] for name in predictors}
    for predictor in predictors.values():
        stage_times(predictor, photos[0], out)  # warm-up
    for i, path in enumerate(photos):  # the configurations take turns, photo by photo
        names = list(predictors) if i % 2 == 0 else list(reversed(predictors))
        for name in names:
            times[name].append(stage_times(predictors[name], path, out))
    table = {
        name: {s: 1000 * statistics.median(r[s] for r in rows) for s in STAGES}
        for name, rows in times.items()
    }
    for row in table.values():
        row["total"] = sum(row[s] for s in STAGES)
    gflop = unet_gflop(predictors["torch fp32"])
    peaks = {"fp32": peak_gflops(torch.float32), "bf16": peak_gflops(torch.bfloat16)}
    floor = {k: 1000 * gflop / v for k, v in peaks.items()}
    report = {
        "model": model[0].name,
        "photos": len(photos),
        "threads": args.threads,
        "cpu_has_fast_bf16": cpu_has_fast_bf16(),
        "labels": {name: p.device_label for name, p in predictors.items()},
        "median_ms": table,
        "unet_gflop": gflop,
        "peak_gflops": peaks,
        "unet_floor_ms": floor,
    }
    print(f"{'':16s}" + "".join(f"{s:>10s}" for s in (*STAGES, "total")))
    for name, row in table.items():
        print(f"{name:16s}" + "".join(f"{row[s]:10.1f}" for s in (*STAGES, "total")))
    print(f"U-Net: {gflop:.1f} GFLOP at {model[0].name}'s input size; peak matmul ", end="")
    print(", ".join(f"{k} {v:.0f} GFLOP/s (floor {floor[k]:.1f} ms)" for k, v in peaks.items()))
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
