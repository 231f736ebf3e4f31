"""benchmarks/lite_vs_torch.py end to end on a Carvana and a web photo of tests/data."""

from __future__ import annotations

import json
from pathlib import Path

from model_cache import cached_ir

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "resources" / "models" / "cpu-lite0-448x672-any-studio.safetensors"


def test_lite_vs_torch_reports_the_dice_between_both_editions_masks(load_script, tmp_path):
    out = tmp_path / "lite.json"
    data = str(ROOT / "tests" / "data")
    args = ["--carvana", "1", "--web", "1", "--threads", "1", "--data-root", data]
    bench = load_script("benchmarks/lite_vs_torch.py")
    assert bench.main([*args, "--ir", str(cached_ir(DEFAULT)), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["meets_bar"] and report["model"] == DEFAULT.name
    for name in ("carvana_val", "web_cars_val"):
        s = report["sets"][name]
        assert s["photos"] == 1 and s["dice_min"] >= 0.9999
        assert s["torch_s_per_photo"] > 0 and s["lite_s_per_photo"] > 0
