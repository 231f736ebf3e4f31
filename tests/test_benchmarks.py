"""benchmarks/quality.py and benchmarks/speed.py end to end on a few real photos (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoint import ModelHeader, read_header, save_model
from engine.export import ExportOptions, export_photo
from engine.io import read_mask, read_rgb
from engine.metrics import dice
from engine.models.unet import UNet, UNetConfig
from engine.predict import Predictor

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TINY = UNetConfig("resnet18", "add", (32, 16, 16, 8, 8), 32)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> list[Path]:
    """Two small U-Nets with random weights (differently seeded): fast to build and run."""
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = UNet(TINY, pretrained=None)
        paths.append(
            save_model(
                folder / f"m{seed}.safetensors", model, ModelHeader(f"m{seed}", TINY, (64, 96))
            )
        )
    return paths


def test_quality_scores_models_and_ensemble(models, carvana, tmp_path, load_script):
    out = tmp_path / "quality.json"
    args = ["--data", str(carvana / "val"), "--limit", "3", "--device", "cpu", "--threads", "1"]
    args += ["--model", str(models[0]), "--model", str(models[1]), "--out", str(out), "-q"]
    assert load_script("benchmarks/quality.py").main(args) == 0
    report = json.loads(out.read_text())

    all_photos = sorted(p.name for p in (carvana / "val").glob("*.jpg"))
    assert report["photos"] == 3 and report["settings"]["pairs_found"] == len(all_photos)
    photos = [r["photo"] for r in report["per_photo"]]
    assert photos == [all_photos[i] for i in (0, 2, 4)]  # evenly spread over the 7
    assert report["environment"]["engine"] and report["environment"]["torch"] == torch.__version__
    assert report["environment"]["device_label"].startswith("CPU")

    assert [m["key"] for m in report["models"]] == ["m0", "m1"]
    for m, path in zip(report["models"], models, strict=True):
        assert m["sha256"] == read_header(path).sha256 and len(m["sha256"]) == 64
        assert m["input_size"] == [64, 96] and Path(m["file"]) == path.resolve()
        scores = [r["dice"][m["key"]] for r in report["per_photo"]]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert m["mean_dice"] == pytest.approx(np.mean(scores))
        worst = [w["dice"] for w in m["worst"]]
        assert len(worst) == 3 and worst == sorted(worst) and worst[0] == m["min_dice"]
    ens = report["ensemble"]
    assert ens["models"] == ["m0", "m1"] and ens["vote"] == "majority"
    assert 0.0 <= ens["mean_dice"] <= 1.0 and len(ens["worst"]) == 3
    assert all("ensemble" in r["dice"] for r in report["per_photo"])

    # the per-model score is the score of the mask `carmask predict` writes
    first = carvana / "val" / photos[0]
    mask = Predictor([models[0]], device="cpu").predict(read_rgb(first))
    truth = read_mask(carvana / "val_masks" / f"{first.stem}_mask.gif")
    assert report["per_photo"][0]["dice"]["m0"] == pytest.approx(dice(mask, truth), abs=1e-4)


def test_quality_without_a_model_is_a_clear_error(
    carvana, tmp_path, monkeypatch, capsys, load_script
):
    monkeypatch.setenv("CARMASK_RESOURCES", str(tmp_path))  # nothing shipped
    code = load_script("benchmarks/quality.py").main(
        ["--data", str(carvana / "val"), "--out", str(tmp_path / "q")]
    )
    assert code == 2 and "--model" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_speed_compares_engine_with_baseline(models, carvana, tmp_path, load_script):
    out = tmp_path / "speed.json"
    args = ["--model", str(models[0]), "--photos", str(carvana / "val"), "-n", "2"]
    args += ["--warmup", "1", "--device", "cpu", "--threads", "1", "--cutout"]
    assert load_script("benchmarks/speed.py").main([*args, "--out", str(out), "-q"]) == 0
    report = json.loads(out.read_text())

    assert report["settings"]["n"] == 2 and report["settings"]["cutout"] is True
    assert report["model"]["sha256"] == read_header(models[0]).sha256
    rows = report["rows"]
    assert [r["pipeline"] for r in rows] == ["baseline", "engine"]
    for r in rows:
        assert r["device"] == "cpu" and r["threads"] == 1 and len(r["times_s"]) == 2
        assert 0 < r["min_s"] <= r["total_s"] <= r["max_s"] < 30
        assert all(r[f"{s}_s"] > 0 for s in ("read", "predict", "write"))
        assert r["images_per_s"] == pytest.approx(2 / sum(r["times_s"]))
        assert r["output_kb"] > 0  # mask PNG + cutout PNG per photo
        assert r["peak_mb"] is None or r["peak_mb"] > 0
    base, eng = rows
    assert eng["ratio"] == pytest.approx(eng["total_s"] / base["total_s"])
    assert eng["speedup"] == pytest.approx(1 / eng["ratio"])
    assert 0.5 < eng["mask_dice_vs_baseline"] <= 1.0  # same model, so nearly the same mask


def test_speed_times_an_ensemble_as_one_majority_vote(models, carvana, tmp_path, load_script):
    out = tmp_path / "speed.json"
    args = ["--photos", str(carvana / "val"), "-n", "1", "--warmup", "0", "--device", "cpu"]
    for m in models:
        args += ["--model", str(m)]
    assert (
        load_script("benchmarks/speed.py").main([*args, "--threads", "1", "--out", str(out), "-q"])
        == 0
    )
    report = json.loads(out.read_text())
    members = report["model"]["ensemble"]
    assert [m["sha256"] for m in members] == [read_header(m).sha256 for m in models]
    assert report["model"]["vote"] == "majority"
    eng = report["rows"][1]
    # the engine's ensemble (Predictor + engine.ensemble) and the baseline's vote agree
    assert 0.5 < eng["mask_dice_vs_baseline"] <= 1.0


def test_speed_without_model_flags_times_the_shipped_default_or_ensemble(
    models, carvana, tmp_path, monkeypatch, load_script
):
    """No --model: the shipped default (as `carmask predict` uses); --ensemble: the shipped vote."""
    shipped = tmp_path / "resources" / "models"
    shipped.mkdir(parents=True)
    for m in models:
        (shipped / m.name).write_bytes(m.read_bytes())
    manifest = {"default": models[0].name, "ensemble": [m.name for m in models]}
    (shipped / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("CARMASK_RESOURCES", str(shipped.parent))
    args = ["--photos", str(carvana / "val"), "-n", "1", "--warmup", "0", "--device", "cpu", "-q"]
    speed = load_script("benchmarks/speed.py")
    assert speed.main([*args, "--out", str(tmp_path / "default.json")]) == 0
    report = json.loads((tmp_path / "default.json").read_text())
    assert report["model"]["sha256"] == read_header(models[0]).sha256
    assert speed.main([*args, "--ensemble", "--out", str(tmp_path / "ensemble.json")]) == 0
    members = json.loads((tmp_path / "ensemble.json").read_text())["model"]["ensemble"]
    assert [m["sha256"] for m in members] == [read_header(m).sha256 for m in models]


# engine.export's PNG zlib level, chosen with benchmarks/speed.py --cutout
def test_export_png_level_is_fast_by_default_and_lossless(tmp_path):
    rgb = read_rgb(BENCHMARKS.parent / "tests" / "data" / "fullsize" / "0ed6904e1004_05.jpg")
    mask = np.zeros(rgb.shape[:2], bool)
    mask[300:1000, 200:1700] = True
    assert ExportOptions().png_compress_level == 1
    sizes = {}
    for level in (1, 9):
        folder = tmp_path / str(level)
        options = ExportOptions(formats=("png", "mask"), png_compress_level=level)
        written = export_photo(rgb, mask, "car.jpg", folder, options)
        sizes[level] = sum(p.stat().st_size for p in written)
        with Image.open(folder / "car.png") as im:
            assert im.mode == "RGBA"
            np.testing.assert_array_equal(np.asarray(im)[:, :, :3], rgb)
            np.testing.assert_array_equal(np.asarray(im)[:, :, 3] > 0, mask)
        np.testing.assert_array_equal(read_mask(folder / "car_mask.png"), mask)
    assert sizes[9] < sizes[1]  # the level is really passed to the encoder
