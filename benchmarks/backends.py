"""CPU inference backends side by side for the shipped default U-Net, in float32 (issue 20).

One run, the same model and the same input: PyTorch eager (today's path, the baseline),
PyTorch with `channels_last`, and ONNX Runtime (when installed: `pip install onnxruntime onnx`).
Rounds alternate the order; medians of `--repeats` forwards per round. Also checks that each
backend's mask equals the eager one (share of equal pixels at logit 0) on the input.

    python benchmarks/backends.py [--threads 2] [--repeats 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.checkpoint import load_model
from engine.io import atomic_write_bytes, read_rgb
from engine.library import default_model_paths, resources_dir
from engine.predict import input_geometry, to_input_tensor


def _median_seconds(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _onnx_session(model, x: torch.Tensor, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed"
    path = Path(tempfile.mkdtemp()) / "unet.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # no spinning between runs: its idle threads would slow the PyTorch rounds on 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, f"onnxruntime {ort.__version__}"


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True)")
    p.add_argument("--out", type=Path, default=here / "results" / "backends-cpu.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    path = default_model_paths()[0]
    model, header = load_model(path, torch.device("cpu"))
    unet = model.eval()
    photo = read_rgb(sorted((resources_dir() / "samples").glob("*.jpg"))[0])
    (h, w), padded = input_geometry(photo.shape[:2], header.input_size, unet.stride)
    x = unet.normalize(to_input_tensor(photo, (h, w), torch.device("cpu"), padded))
    with torch.inference_mode():
        ref = unet(x)
        session, ort_label = _onnx_session(unet, x, args.threads)
        backends = {"eager": lambda: unet(x)}
        last = x.contiguous(memory_format=torch.channels_last)
        unet_last = copy.deepcopy(unet).to(memory_format=torch.channels_last)
        backends["channels_last"] = lambda: unet_last(last)
        if session is not None:
            xn = x.numpy()
            backends["onnxruntime"] = lambda: torch.from_numpy(session.run(None, {"x": xn})[0])
        agree = {
            name: float(((fn() > 0) == (ref > 0)).float().mean()) for name, fn in backends.items()
        }
        rounds = []
        for r in range(args.rounds):
            order = list(backends) if r % 2 == 0 else list(reversed(backends))
            rounds.append({name: _median_seconds(backends[name], args.repeats) for name in order})
    medians = {n: statistics.median(rd[n] for rd in rounds) for n in backends}
    report = {
        "model": path.name,
        "input": [int(s) for s in x.shape],
        "threads": args.threads,
        "torch": torch.__version__,
        "onnx": ort_label,
        "rounds": rounds,
        "median_s": medians,
        "ratio_to_eager": {n: medians[n] / medians["eager"] for n in backends},
        "mask_agreement_with_eager": agree,
    }
    for n in backends:
        print(
            f"{n:14s} {medians[n] * 1000:7.1f} ms  {report['ratio_to_eager'][n]:.2f}x eager"
            f"  mask agreement {agree[n]:.6f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, (json.dumps(report, indent=1) + "\n").encode())
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
