"""How well the per-photo confidence finds the bad cutouts, and what it costs.

For each photo of Carvana val and of web-cars' fixed validation part, with the shipped default
model: its true Dice, its confidence (`engine.review.confidence`) and the seconds of prediction
and of the confidence. Reports, per set, the AUROC of "low confidence" for "Dice < 0.99" and for
"Dice < 0.97", and the share of those photos that lie in the least-confident 10 % and 20 %.

    python benchmarks/confidence.py [--data ../shared/data] [--limit N] [--out results/...json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.io import atomic_write_json, read_mask, read_rgb
from engine.library import default_model_paths
from engine.metrics import dice
from engine.pairs import find_pairs, spread
from engine.predict import Predictor
from engine.review.confidence import confidence
from engine.scenes.sources import web_pairs

BARS = (0.99, 0.97)
SHARES = (0.1, 0.2)


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The chance that a positive (a bad cutout) scores above a negative (Mann-Whitney U)."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return None
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable")) + 1.0
    # ties share their mean rank
    allv = np.concatenate([pos, neg])
    for v in np.unique(allv):
        tied = allv == v
        ranks[tied] = ranks[tied].mean()
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def found_in_least_confident(conf: np.ndarray, bad: np.ndarray, share: float) -> float | None:
    if not bad.any():
        return None
    k = max(1, round(share * len(conf)))
    looked = np.argsort(conf, kind="stable")[:k]
    return float(bad[looked].sum() / bad.sum())


def measure(predictor: Predictor, pairs) -> list[dict]:
    rows = []
    t = predictor.models[0].header.threshold
    for pair in pairs:
        rgb, truth = read_rgb(pair.image), read_mask(pair.mask)
        t0 = time.perf_counter()
        prob = predictor.probabilities(rgb)[0]
        t1 = time.perf_counter()
        c = confidence(prob)
        t2 = time.perf_counter()
        rows.append(
            {
                "photo": pair.image.name,
                "dice": dice(prob > t, truth),
                **c.to_json(),
                "predict_s": t1 - t0,
                "confidence_s": t2 - t1,
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    conf = np.array([r["confidence"] for r in rows])
    d = np.array([r["dice"] for r in rows])
    out = {"photos": len(rows), "mean_dice": float(d.mean())}
    for bar in BARS:
        bad = d < bar
        out[f"dice<{bar}"] = {
            "photos": int(bad.sum()),
            "auroc": auroc(-conf, bad),
            **{
                f"found_in_least_confident_{int(s * 100)}%": found_in_least_confident(conf, bad, s)
                for s in SHARES
            },
            # more bad photos than the share holds: this is the most it could find
            **{
                f"most_findable_in_{int(s * 100)}%": min(1.0, round(s * len(conf)) / bad.sum())
                if bad.any()
                else None
                for s in SHARES
            },
        }
    pred = float(np.median([r["predict_s"] for r in rows]))
    cost = float(np.median([r["confidence_s"] for r in rows]))
    out["median_predict_s"], out["median_confidence_s"] = pred, cost
    out["cost_ratio"] = cost / pred
    return out


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    p.add_argument("--limit", type=int, default=0, help="at most N photos per set (0: all)")
    p.add_argument("--out", type=Path, default=here / "results" / "confidence-cpu.json")
    args = p.parse_args(argv)
    models = default_model_paths()
    predictor = Predictor(models, device="cpu")
    sets = {
        "carvana-val": sorted(
            find_pairs(args.data / "carvana" / "val", check_content=False).pairs,
            key=lambda p: str(p.image),
        ),
        "web-cars-val": web_pairs(args.data / "web-cars", "val"),
    }
    report = {"model": [m.name for m in models], "device": predictor.device_label, "sets": {}}
    for name, pairs in sets.items():
        pairs = spread(pairs, args.limit) if args.limit else pairs
        rows = measure(predictor, pairs)
        report["sets"][name] = {"summary": summarise(rows), "rows": rows}
        s = report["sets"][name]["summary"]
        print(f"{name}: {s['photos']} photos, mean Dice {s['mean_dice']:.4f}")
        for bar in BARS:
            b = s[f"dice<{bar}"]
            print(
                f"  Dice < {bar}: {b['photos']} photos, AUROC {b['auroc']}, found in the least"
                f" confident 10 %: {b['found_in_least_confident_10%']}, 20 %:"
                f" {b['found_in_least_confident_20%']}"
            )
        print(
            f"  cost: {s['median_confidence_s'] * 1000:.1f} ms vs {s['median_predict_s']:.3f} s"
            f" predict (median), {s['cost_ratio']:.1%}"
        )
    atomic_write_json(args.out, report)
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
