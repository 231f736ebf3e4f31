"""CPU inference backends side by side for the shipped default model, in float32 (issue 20).

One run, the same model, the same inputs from a real photo: the U-Net's forward at its input
size, and the edge refiner on one batch of 64 real edge tiles. Backends: PyTorch eager (today's
path, the baseline), PyTorch with `channels_last`, `torch.compile` (inductor), ONNX Runtime
(when installed: `pip install onnxruntime onnx`) and OpenVINO (`engine.inference.backends`, the
shipped
default on the CPU). Rounds alternate the order; medians of `--repeats` runs per round. Also:
each backend's largest logit difference from eager, and the Dice between their masks.

    python benchmarks/backends.py [--threads 2] [--repeats 10] [--rounds 2] [--no-compile]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.inference.backends.openvino_model import OpenVinoModel, convert
from engine.inference.predict import input_geometry, to_input_tensor
from engine.io import atomic_write_json, read_rgb
from engine.modelfiles.checkpoint import load_model
from engine.modelfiles.library import default_model_paths
from engine.training.metrics import dice

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared/data/carvana/val/0ed6904e1004_05.jpg"


def _median_seconds(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class Interior(torch.nn.Module):
    def __init__(self, refiner):
        super().__init__()
        self.refiner = refiner

    def forward(self, photo, logits):
        return self.refiner.forward_interior(photo, logits)


def onnx_runners(unet, x, interior, tiles, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed"
    folder = Path(tempfile.mkdtemp())
    torch.onnx.export(unet, (x,), str(folder / "u.onnx"), input_names=["x"], dynamo=False)
    torch.onnx.export(interior, tiles, str(folder / "r.onnx"), input_names=["p", "l"], dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # no spinning between runs: its idle threads would slow the other backends on 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    u, r = (
        ort.InferenceSession(str(folder / n), options, providers=["CPUExecutionProvider"])
        for n in ("u.onnx", "r.onnx")
    )
    xn, (pn, ln) = x.numpy(), (t.numpy() for t in tiles)
    return (
        lambda: torch.from_numpy(u.run(None, {"x": xn})[0]),
        lambda: torch.from_numpy(r.run(None, {"p": pn, "l": ln})[0]),
    ), f"onnxruntime {ort.__version__}"


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    p.add_argument("--out", type=Path, default=here / "results" / "backends-cpu.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    path = default_model_paths()[0]
    unet, header = load_model(path, torch.device("cpu"))
    unet.eval()
    rgb = read_rgb(args.photo)
    (h, w), padded = input_geometry(rgb.shape[:2], header.input_size, unet.stride)
    x = unet.normalize(to_input_tensor(rgb, (h, w), torch.device("cpu"), padded))
    interior = Interior(unet.refiner).eval()
    with torch.inference_mode():
        logits = F.interpolate(unet(x)[..., :h, :w], size=rgb.shape[:2], mode="bilinear")
        photo = torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)
        captured = []
        unet.refiner.refine(
            photo, logits[0, 0], interior=lambda *t: captured.append(t) or interior(*t)
        )
    tiles = captured[0]
    folder = Path(tempfile.mkdtemp())
    convert(unet, header.input_size, folder)
    ov = OpenVinoModel(folder, torch.float32, args.threads)
    last_unet = copy.deepcopy(unet).to(memory_format=torch.channels_last)
    last_int = Interior(last_unet.refiner).eval()
    last_x = x.contiguous(memory_format=torch.channels_last)
    last_tiles = tuple(t.contiguous(memory_format=torch.channels_last) for t in tiles)
    nets = {
        "eager": (lambda: unet(x), lambda: interior(*tiles)),
        "channels_last": (lambda: last_unet(last_x), lambda: last_int(*last_tiles)),
    }
    notes = {}
    if not args.no_compile:
        try:
            cu, ci = torch.compile(copy.deepcopy(unet)), torch.compile(copy.deepcopy(interior))
            t = time.perf_counter()
            with torch.inference_mode():
                cu(x), ci(*tiles)
            notes["torch.compile"] = f"compiled in {time.perf_counter() - t:.0f} s"
            nets["torch.compile"] = (lambda: cu(x), lambda: ci(*tiles))
        except Exception as exc:  # no compiler, an inductor error: measured without it
            notes["torch.compile"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    with torch.inference_mode():
        runners, notes["onnxruntime"] = onnx_runners(unet, x, interior, tiles, args.threads)
    if runners is not None:
        nets["onnxruntime"] = runners
    nets["openvino"] = (lambda: ov.unet(x), lambda: ov.refiner_interior(*tiles))
    rounds: list[dict] = []
    with torch.inference_mode():
        ref = [fn().float() for fn in nets["eager"]]
        diffs = {}
        for name, fns in nets.items():
            outs = [fn().float() for fn in fns]
            diffs[name] = {
                "unet_max_logit_diff": float((outs[0] - ref[0]).abs().max()),
                "refiner_max_logit_diff": float((outs[1] - ref[1]).abs().max()),
                "unet_mask_dice_vs_eager": dice((outs[0] > 0).numpy(), (ref[0] > 0).numpy()),
            }
        for r in range(args.rounds):
            order = list(nets) if r % 2 == 0 else list(reversed(nets))
            rounds.append(
                {name: [_median_seconds(fn, args.repeats) for fn in nets[name]] for name in order}
            )
    med = {
        n: {
            part: statistics.median(rd[n][i] for rd in rounds)
            for i, part in enumerate(("unet", "refiner"))
        }
        for n in nets
    }
    report = {
        "model": path.name,
        "unet_input": [int(s) for s in x.shape],
        "refiner_tiles": [int(s) for s in tiles[0].shape],
        "threads": args.threads,
        "torch": torch.__version__,
        "notes": notes,
        "rounds_s": rounds,
        "median_s": med,
        "ratio_to_eager": {n: {k: med[n][k] / med["eager"][k] for k in med[n]} for n in nets},
        "agreement_with_eager": diffs,
    }
    for n in nets:
        u, r = med[n]["unet"], med[n]["refiner"]
        ratio = report["ratio_to_eager"][n]
        print(
            f"{n:14s} U-Net {u * 1000:6.1f} ms ({ratio['unet']:.2f}x)  refiner {r * 1000:5.1f} ms"
            f" ({ratio['refiner']:.2f}x)  max diff {diffs[n]['unet_max_logit_diff']:.1e}"
        )
    for n, note in notes.items():
        print(f"  {n}: {note}")
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
