"""The main-object step's cues (`engine.matte.select`), judged on the same raw masks: the shipped
default is run once per photo (OpenVINO, float32), then each rule picks the main car from its
raw mask and is scored against the hand (or composed) mask. Rules: `area x centrality` (before
2026-12-06: `FAR_WEIGHT = 1`) and `area x centrality x nearness` (today's `FAR_WEIGHT`).

Sets: web-cars' validation split (47), Carvana val at full size (32, every 8th photo), and the
generated studio looks written by `benchmarks/robustness.py --save-studios DIR` (pass DIR).

    python benchmarks/robustness.py --data-root ../shared/data --no-carvana --no-web \\
        --studio-photos 24 --save-studios /tmp/studios --out /tmp/r.json -q
    python benchmarks/main_object_cues.py --data-root ../shared/data --studios /tmp/studios
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import engine.matte.select as select  # noqa: E402
from engine.inference.predict import Predictor  # noqa: E402
from engine.io import read_mask, read_rgb  # noqa: E402
from engine.training.metrics import dice  # noqa: E402
from engine.training.scenes.sources import web_pairs  # noqa: E402

MODEL = REPO / "resources" / "models" / "cpu-lite0-448x672-any-studio.safetensors"


def photos(data: Path, studios: Path | None) -> list[tuple[str, Path, Path]]:
    out = [("web", p.image, p.mask) for p in web_pairs(data / "web-cars", "val")]
    for image in sorted((data / "carvana" / "val").glob("*.jpg"))[::8]:
        out.append(("carvana", image, data / "carvana" / "val_masks" / f"{image.stem}_mask.gif"))
    if studios is not None:
        for image in sorted((studios / "images").glob("*.png")):
            look = image.stem.split("_")[0]
            out.append((f"studio:{look}", image, studios / "masks" / image.name))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--studios", type=Path, help="a folder written by robustness.py --save-studios")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/main-object-cues.json")
    args = p.parse_args(argv)
    predictor = Predictor([MODEL], device="cpu", precision="fp32", backend="openvino")
    rules = {"area x centrality": 1.0, "area x centrality x nearness": select.FAR_WEIGHT}
    scores: dict[str, dict[str, list[float]]] = {r: defaultdict(list) for r in rules}
    changed = []
    for kind, image, mask in photos(args.data_root, args.studios):
        raw = predictor.logits(read_rgb(image)) > 0  # the shipped model's threshold is 0.5
        truth = read_mask(mask)
        row = {}
        for rule, far in rules.items():
            select.FAR_WEIGHT = far
            row[rule] = dice(select.select_main_car(raw).mask, truth)
            scores[rule][kind].append(row[rule])
        if len(set(np.round(list(row.values()), 6))) > 1:
            changed.append({"photo": image.name, "set": kind, **row})
    select.FAR_WEIGHT = rules["area x centrality x nearness"]
    summary = {
        rule: {k: {"n": len(v), "mean": round(float(np.mean(v)), 5)} for k, v in sorted(s.items())}
        for rule, s in scores.items()
    }
    for rule, sets in summary.items():
        print(f"{rule:30}", "  ".join(f"{k} {v['mean']:.5f} ({v['n']})" for k, v in sets.items()))
    print("photos whose Dice changed:", changed)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "main-object cues",
                "model": MODEL.name,
                "sets": summary,
                "changed": changed,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
