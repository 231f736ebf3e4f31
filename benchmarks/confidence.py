"""How well the per-photo confidence finds the bad cutouts, and what it costs.

For each photo of Carvana val and of web-cars' fixed validation part, with the shipped default
model: its true Dice, its confidence (`engine.review.confidence`) and the seconds of prediction
and of the confidence. Reports, per set, the AUROC of "low confidence" for "Dice < 0.99" and for
"Dice < 0.97", and the share of those photos that lie in the least-confident 10 % and 20 %.

And the operator's figures (issue 32): the share of good cutouts (Dice >= 0.97) that the review
rule (`engine.review.verdict`) flags, which should be at most 15 %, and the share of bad ones
(Dice < 0.95) it flags, at least 90 %; and how many carry "unsure edge". Each with the rule
before issue 32 (`todays_rule`, worked out from the same measures) as the baseline.

    python benchmarks/confidence.py [--data ../shared/data] [--limit N] [--out results/...json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report_files import dump_path, write_report
from engine.inference.predict import Predictor
from engine.io import read_mask, read_rgb
from engine.modelfiles.library import default_model_paths
from engine.review.confidence import confidence
from engine.review.verdict import needs_review
from engine.training.metrics import dice
from engine.training.pairs import find_pairs, spread
from engine.training.scenes.sources import web_pairs

BARS = (0.99, 0.97)
SHARES = (0.1, 0.2)
GOOD, BAD = 0.97, 0.95  # Dice at or above GOOD: a good cutout; below BAD: a bad one


def _ramp(x: float, good: float, bad: float) -> float:
    return float(np.clip((bad - x) / (bad - good), 0.0, 1.0))


def todays_rule(m: dict) -> tuple[bool, bool]:
    """(needs review, says "unsure edge") by the rule before issue 32, from a photo's measures:
    the product of the checks' scores below 0.6, the edge scoring 0.5 at 3 px and named below
    0.75, stray blobs scoring 0.5 at 4.25 %."""
    if m["area"] == 0:
        return True, False
    edge = 1 / (1 + (m["edge_px"] / 3.0) ** 3)
    size = min(_ramp(-m["area"], -0.03, -0.005), _ramp(m["area"], 0.75, 0.95))
    value = edge * _ramp(m["stray"], 0.005, 0.08) * _ramp(m["holes"], 0.01, 0.08)
    value *= _ramp(m["frame"], 0.05, 0.3) * size
    return value < 0.6, edge < 0.75


def review_figures(rows: list[dict]) -> dict:
    """Per rule: the share of good cutouts flagged, of bad ones flagged, of all photos flagged,
    and the photos that say "unsure edge"."""
    d = np.array([r["dice"] for r in rows])
    good, bad = d >= GOOD, d < BAD
    before = [todays_rule(r["measures"]) for r in rows]
    rules = {
        "before (issue 32)": ([f for f, _ in before], [e for _, e in before]),
        "now": (
            [r["needs_review"] for r in rows],
            [any(x.startswith("unsure edge") for x in r["reasons"]) for r in rows],
        ),
    }
    out: dict = {"good_photos": int(good.sum()), "bad_photos": int(bad.sum())}
    for name, (flags, edges) in rules.items():
        f = np.array(flags)
        out[name] = {
            "good_flagged": float(f[good].mean()) if good.any() else None,
            "bad_flagged": float(f[bad].mean()) if bad.any() else None,
            "flagged": float(f.mean()),
            "unsure_edge": int(sum(edges)),
        }
    return out


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
                "measures": c.measures,
                "needs_review": needs_review(c.value),
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
    out["review"] = review_figures(rows)
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
        _print_review(s["review"])
    write_report(args.out, report, [("sets", name, "rows") for name in report["sets"]])
    print(f"→ {args.out} (per photo: {dump_path(args.out)})")
    return 0


def _print_review(r: dict) -> None:
    def share(x):
        return "n/a" if x is None else f"{x:.0%}"

    print(f"  review: {r['good_photos']} good (Dice >= {GOOD}), {r['bad_photos']} bad (< {BAD})")
    for name in ("before (issue 32)", "now"):
        f = r[name]
        print(
            f"    {name}: good flagged {share(f['good_flagged'])}, bad flagged"
            f" {share(f['bad_flagged'])}, all flagged {share(f['flagged'])},"
            f" unsure edge on {f['unsure_edge']}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
