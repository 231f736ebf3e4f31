"""Training-step speed: seconds per optimiser step with mixed precision against float32.

Both configurations start from the same model file (or the same preset with random weights) and
time `engine.train.Trainer.train_step` through `engine.training.finetune.measure`, the code the
fine-tuning wizard's time estimate uses: forward, the project's loss (BCE + focal + soft Dice),
backward and an AdamW step on a batch of random pixels of the given size (a step's time does not
depend on the pixels). The baseline is the same step in float32 (`amp` off); the engine's step is
`amp` on: float16 with a grad scaler on CUDA, bfloat16 on a CPU that computes it natively, float32
elsewhere (then both rows are the same configuration). The two alternate, `--rounds` times each,
and the medians of all timed steps are compared.

    python benchmarks/train_step.py --model resources/models/cpu-lite0-448x672.safetensors \\
        --size 256x384 --batch-size 8 --threads 2 --out benchmarks/results/train-step-cpu.json

`--size 256x384` is the batch's size: the crop size for crop training (`carmask finetune --crop`),
else the training input size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
if str(REPO) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO))

from speed import environment  # noqa: E402  (benchmarks/speed.py)

from engine.cli import _parse_size  # noqa: E402
from engine.inference.devices import DEVICE_CHOICES  # noqa: E402
from engine.training.config import PRESETS, TrainConfig  # noqa: E402
from engine.training.finetune import measure  # noqa: E402


def config(args, amp: bool) -> TrainConfig:
    fields = dict(
        data="",
        out=str(Path(args.model or "probe").with_suffix(".bench.safetensors")),
        input_size=args.size,
        size_from_base=False,
        batch_size=args.batch_size,
        optimizer="adamw",
        lr=1e-5,
        device=args.device,
        amp=amp,
        pretrained=None,
    )
    if args.model:
        fields["init_from"] = args.model
    else:
        fields["preset"] = args.preset
    return TrainConfig(**fields)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file to start from (else --preset, random weights)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-lite0-448x672")
    p.add_argument("--size", type=_parse_size, default=(256, 384), help="batch HxW")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3, help="alternations of the two configurations")
    p.add_argument("--repeats", type=int, default=3, help="timed steps per round (after 1 warm-up)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    steps: dict[bool, list[float]] = {False: [], True: []}
    labels: dict[bool, str] = {}
    for _ in range(args.rounds):
        for amp in (False, True):
            t = measure(config(args, amp), args.batch_size, repeats=args.repeats)
            steps[amp].append(t.step_seconds)  # the median of this round's timed steps
            labels[amp] = t.device
    rows = [
        {
            "pipeline": "engine (amp)" if amp else "baseline (float32)",
            "device": labels[amp],
            "median_step_s": statistics.median(steps[amp]),
            "round_medians_s": steps[amp],
        }
        for amp in (False, True)
    ]
    base, engine = (r["median_step_s"] for r in rows)
    print(f"batch {args.batch_size} × {args.size[0]}×{args.size[1]}, {args.model or args.preset}")
    for r in rows:
        print(f"  {r['pipeline']:<20} {r['device']:<32} {r['median_step_s']:.3f} s/step")
    print(f"  speed-up: {base / engine:.2f}×")
    if args.out:
        result = {
            "benchmark": "train_step",
            "environment": environment(torch.get_num_threads()),
            "settings": {
                "model": args.model,
                "preset": None if args.model else args.preset,
                "batch": [args.batch_size, 3, *args.size],
                "rounds": args.rounds,
                "repeats": args.repeats,
            },
            "rows": rows,
            "speedup": base / engine,
        }
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
