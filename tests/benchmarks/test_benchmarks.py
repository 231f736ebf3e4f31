"""benchmarks/quality.py, speed.py and robustness.py end to end on a few real photos."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cutout_checks import assert_cutout_of
from PIL import Image

from benchmarks.report_files import read_report
from engine.batch.export import ExportOptions, export_photo
from engine.inference.predict import Predictor
from engine.io import read_mask, read_rgb
from engine.modelfiles.checkpoint import ModelHeader, read_header, save_model
from engine.models.unet import UNet, UNetConfig
from engine.training.metrics import dice

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
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
    assert "per_photo" not in json.loads(out.read_text())  # the committed summary stays small
    report = read_report(out)  # with its per-photo dump, kept out of git

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
    # the engine's ensemble (Predictor + engine.inference.ensemble) and the baseline's vote agree
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


# engine.batch.export's PNG zlib level, chosen with benchmarks/speed.py --cutout
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
            assert_cutout_of(np.asarray(im), rgb, mask)
        np.testing.assert_array_equal(read_mask(folder / "car_mask.png"), mask)
    assert sizes[9] < sizes[1]  # the level is really passed to the encoder


def _fake_data_root(root: Path, carvana: Path) -> Path:
    """A --data-root from the fixtures only: Carvana val, 2 web-like photos (480x360, PNG masks
    255 = car), 2 held-out "street scenes" (fixture photos named as Seq05VD frames) and one
    training scene that must not be used."""
    shutil.copytree(carvana / "val", root / "carvana" / "val")
    shutil.copytree(carvana / "val_masks", root / "carvana" / "val_masks")
    train = sorted((carvana / "train").glob("*.jpg"))
    for sub in ("web-cars/images", "web-cars/masks", "scenes/images"):
        (root / sub).mkdir(parents=True)
    for i, photo in enumerate(train[:3]):  # the third is in the web training split: not scored
        name = ("rf_test_", "rf_valid_", "rf_train_")[i] + photo.stem
        Image.open(photo).resize((480, 360)).save(root / "web-cars/images" / f"{name}.jpg")
        mask = read_mask(carvana / "train_masks" / f"{photo.stem}_mask.gif")
        Image.fromarray(mask.astype(np.uint8) * 255).resize((480, 360), Image.NEAREST).save(
            root / "web-cars/masks" / f"{name}.png"
        )
    for i, photo in enumerate(train[3:6]):
        seq = "Seq05VD" if i < 2 else "0001TP"
        shutil.copy(photo, root / "scenes/images" / f"rf_test_{seq}_00000{i}_png.jpg")
    return root


def test_robustness_scores_every_set_and_look_with_the_same_images(
    trained_model, models, carvana, tmp_path, load_script
):
    root = _fake_data_root(tmp_path / "data", carvana)
    out = tmp_path / "robustness.json"
    saved = tmp_path / "studios"
    args = ["--data-root", str(root), "--carvana-limit", "2", "--studio-photos", "1"]
    args += ["--model", f"old={trained_model}", "--model", f"new={models[0]}", "--device", "cpu"]
    args += ["--threads", "1", "--save-studios", str(saved), "--json", str(out), "-q"]
    robustness = load_script("benchmarks/robustness.py")
    assert robustness.main(args) == 0
    summary = json.loads(out.read_text())["sets"]
    assert not any(set(robustness.PER_PHOTO) & set(s) for s in summary.values())
    report = read_report(out)  # with its per-photo dump, kept out of git

    labels = ["old", "new"]
    assert [m["label"] for m in report["models"]] == labels
    for m, path in zip(report["models"], [trained_model, models[0]], strict=True):
        assert m["weights_sha256"] == read_header(path).sha256
        assert m["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["environment"]["device_label"].startswith("CPU")
    sets = report["sets"]
    assert list(sets) == ["carvana", "web", "studios"]
    assert [p["id"] for p in sets["carvana"]["photos"]] == [
        "0ed6904e1004_01.jpg",
        "0ed6904e1004_12.jpg",
    ]
    web = sorted(p.name for p in (root / "web-cars/images").glob("*.jpg"))
    assert [p["id"] for p in sets["web"]["photos"]] == [n for n in web if "train" not in n]
    looks = list(robustness.LOOKS)
    assert list(sets["studios"]["looks"]) == looks
    assert [p["look"] for p in sets["studios"]["photos"]] == looks
    sources = {p["source"] for p in sets["studios"]["photos"]}  # val photos, both cars
    assert sources <= {p.name for p in (carvana / "val").glob("*.jpg")} and len(sources) >= 4
    assert {s.split("_")[0] for s in sources} == {"0ed6904e1004", "1a17a1bd648b"}
    street = sets["studios"]["photos"][-1]
    assert street["kind"] == "street" and sets["studios"]["scenes"] == [
        "rf_test_Seq05VD_000000_png.jpg",
        "rf_test_Seq05VD_000001_png.jpg",
    ]
    for s in sets.values():
        for g in [s, *s.get("looks", {}).values()]:
            for label in labels:
                sc = g["scores"][label]
                assert sc["n"] == g["n"] > 0
                assert 0.0 <= sc["min_dice"] <= sc["median_dice"] <= 1.0
                assert 0.0 <= sc["mean_dice"] <= 1.0 and sc["seconds_per_photo"] > 0
        for label in labels:
            assert len(s["dice"][label]) == s["n"]
            assert all(0.0 <= d <= 1.0 for d in s["dice"][label])
    assert sets["carvana"]["scores"]["old"]["mean_dice"] > 0.5  # the trained model finds cars

    # every model scored the very same generated photos, the ones written with --save-studios
    studio = sets["studios"]
    generated = [p["sha1"] for p in studio["photos"]]
    assert len(set(generated)) == len(looks)
    assert studio["scored_sha1"] == {label: generated for label in labels}
    for p in studio["photos"]:
        rgb = read_rgb(saved / "images" / f"{p['id']}.png")
        truth = read_mask(saved / "masks" / f"{p['id']}.png")
        assert list(rgb.shape[:2]) == p["size"] and truth.any()
        assert hashlib.sha1(rgb.tobytes() + truth.tobytes()).hexdigest() == p["sha1"]

    # the photos depend on the seeds alone, not on the models or the other looks scored
    again = tmp_path / "again.json"
    args = ["--data-root", str(root), "--no-carvana", "--no-web", "--studio-photos", "1"]
    args += ["--looks", "glossy", "--model", str(models[1]), "--json", str(again), "-q"]
    assert robustness.main([*args, "--device", "cpu", "--threads", "1"]) == 0
    photos = read_report(again)["sets"]["studios"]["photos"]
    assert [p["sha1"] for p in photos] == [generated[looks.index("glossy")]]


def _finetune_data_root(root: Path, carvana: Path) -> Path:
    """A --data-root for finetune_real.py from the fixtures only: Carvana train and val as they
    are, and web-like photos (480x360, PNG masks 255 = car): 4 of the train split made from
    Carvana train photos, 2 of the val split (`rf_test_`, `rf_valid_`) from val photos."""
    for sub in ("train", "train_masks", "val", "val_masks"):
        shutil.copytree(carvana / sub, root / "carvana" / sub)
    for sub in ("images", "masks"):
        (root / "web-cars" / sub).mkdir(parents=True)
    train = sorted((carvana / "train").glob("*.jpg"))[::2]
    val = sorted((carvana / "val").glob("*.jpg"))[-2:]
    named = [("rf_train_", "train", p) for p in train] + [
        (prefix, "val", p) for prefix, p in zip(("rf_test_", "rf_valid_"), val, strict=True)
    ]
    for prefix, split, photo in named:
        name = prefix + photo.stem
        Image.open(photo).resize((480, 360)).save(root / "web-cars/images" / f"{name}.jpg")
        mask = read_mask(carvana / f"{split}_masks" / f"{photo.stem}_mask.gif")
        Image.fromarray(mask.astype(np.uint8) * 255).resize((480, 360), Image.NEAREST).save(
            root / "web-cars/masks" / f"{name}.png"
        )
    return root


def test_finetune_real_tunes_every_model_with_every_recipe(
    trained_model, models, carvana, tmp_path, monkeypatch, capsys, load_script
):
    shipped = tmp_path / "resources" / "models"  # the shipped default: the tiny trained model
    shipped.mkdir(parents=True)
    shutil.copy(trained_model, shipped / trained_model.name)
    (shipped / "manifest.json").write_text(json.dumps({"default": trained_model.name}))
    monkeypatch.setenv("CARMASK_RESOURCES", str(shipped.parent))
    root = _finetune_data_root(tmp_path / "data", carvana)
    out, work = tmp_path / "finetune-real.json", tmp_path / "work"
    recipes = ["decoder-4", "all-8", "all-8-carvana"]
    args = ["--data-root", str(root), "--model", f"rand={models[0]}", "--max-steps", "1"]
    args += ["--val-share", "0.25", "--carvana-check", "2", "--device", "cpu", "--threads", "1"]
    args += [f"--recipe={r}" for r in recipes] + ["--work", str(work), "--json", str(out)]
    assert load_script("benchmarks/finetune_real.py").main(args) == 0
    report = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert all(f"default            {r}" in printed for r in recipes)  # the table

    assert report["benchmark"] == "finetune_real"
    env = report["environment"]
    assert env["device_label"].startswith("CPU") and env["torch"] == torch.__version__
    assert env["training_device_label"].startswith("CPU")
    assert report["settings"]["max_steps"] == 1 and list(report["settings"]["recipes"]) == recipes
    data = report["data"]
    assert data["web_train"] == 4 and len(data["learn"]) == 3 and len(data["held_back"]) == 1
    assert all(name.startswith("rf_train_") for name in data["learn"] + data["held_back"])
    web_test = [p.name for p in (root / "web-cars/images").glob("rf_*") if "train" not in p.name]
    assert data["web_test"] == sorted(web_test) and len(web_test) == 2
    assert data["carvana_check"] == ["0ed6904e1004_01.jpg", "0ed6904e1004_12.jpg"]

    assert [m["label"] for m in report["models"]] == ["default", "rand"]
    for m, path, size in zip(
        report["models"], [trained_model, models[0]], [[96, 144], [64, 96]], strict=True
    ):
        assert m["weights_sha256"] == read_header(path).sha256 and m["input_size"] == size
        rows = [m["base"]] + [m["finetuned"][r] for r in recipes]
        assert list(m["finetuned"]) == recipes
        for row in rows:
            for name, n in (("web", 2), ("carvana", 2)):
                s = row[name]
                assert s["n"] == n == len(s["dice"])
                assert 0.0 <= s["min_dice"] <= s["median_dice"] <= 1.0
                assert s["mean_dice"] == pytest.approx(np.mean(s["dice"]))
        for recipe in recipes:
            run = m["finetuned"][recipe]
            assert run["steps"] == 1 and run["epochs_done"] == 1 and run["train_seconds"] > 0
            assert run["decoder_only"] == (recipe == "decoder-4")
            assert run["crop_size"] == size and run["input_size"] == size  # crop never larger
            assert len(run["val_history"]) == 1 and run["kept"] == "best held-back Dice"
            assert run["web_gain"] == pytest.approx(
                run["web"]["mean_dice"] - m["base"]["web"]["mean_dice"]
            )
            assert run["carvana_change"] == pytest.approx(
                run["carvana"]["mean_dice"] - m["base"]["carvana"]["mean_dice"]
            )
            tuned = read_header(run["model_file"])
            assert Path(run["model_file"]).parent == work and tuned.sha256 != m["weights_sha256"]
            assert tuned.training["finetuned_from"]["name"] == read_header(path).name
            compose = tuned.training["recipe"]["compose"]
            assert len(compose["photos"]) == 3 and compose["mix"]["photo"] == 1.0
            mixed = recipe == "all-8-carvana"
            assert compose["mix"]["carvana"] == (1.0 if mixed else 0.0)
            assert compose["epoch_size"] == (6 if mixed else 3)
            assert run["carvana_photos"] == (6 if mixed else 0)
    assert report["models"][0]["base"]["carvana"]["mean_dice"] > 0.5  # the trained model


def test_startup_times_this_checkout_against_a_baseline_revision(tmp_path, load_script):
    """Both trees really start: `carmask --help` answers and the window comes up in each, and
    the report holds every run and the ratios."""
    import subprocess

    inside = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BENCHMARKS, capture_output=True)
    if inside.returncode != 0:
        pytest.skip("the baseline is a git revision: needs a git checkout")
    startup = load_script("benchmarks/startup.py")
    out = tmp_path / "startup.json"
    assert startup.main(["--baseline", "HEAD", "--repeats", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    for tree in ("new", "old"):
        for probe in ("cli_help", "window_up"):
            (seconds,) = report["seconds"][tree][probe]
            assert 0 < seconds < 120
    assert set(report["ratio_new_over_old"]) == {"cli_help", "window_up"}


def test_cutout_quality_scores_the_main_object_step_the_edges_and_the_png_sizes(
    carvana, tmp_path, load_script
):
    """benchmarks/cutout_quality.py on one web photo and one Carvana photo of tests/data."""
    out = tmp_path / "cutout.json"
    args = ["--data", str(carvana.parent), "--limit", "1", "--out", str(out)]
    assert load_script("benchmarks/cutout_quality.py").main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["sets"]) == {"web-cars-val", "carvana-val-32"}
    rows = read_report(out)["sets"]  # the rows are in the per-photo dump, kept out of git
    assert all(len(rows[name]["rows"]) == 1 and "rows" not in report["sets"][name] for name in rows)
    for s in report["sets"].values():
        summary = s["summary"]
        assert summary["photos"] == 1 and summary["alpha_is_mask_everywhere"]
        assert summary["rgb_zero_under_alpha_0_everywhere"]
        assert summary["dice_thresholded_alpha"] == summary["dice_main_object"]
        assert summary["soft_edge_before"]["mean"] == 0 < 0.9 < summary["soft_edge_after"]["mean"]
        assert summary["png_bytes_after"]["mean"] < summary["png_bytes_before"]["mean"]
        assert {"model", "select", "soft_alpha", "clean_cutout"} <= set(summary["ms"])


def test_finetune_benchmark_on_real_photos_of_one_setting(
    trained_model, models, carvana, tmp_path, load_script
):
    """`--studio carvana`: the fine-tuning benchmark on the real photos as they are (issue 29's
    "32 labelled photos of one setting"), with another model scored on the same test photos."""
    out, work = tmp_path / "finetune.json", tmp_path / "work"
    args = ["--data", str(carvana), "--model", str(trained_model), "--studio", "carvana"]
    args += ["--tune-cars", "2", "--tune-angles", "2", "--test-cars", "1", "--epochs", "1"]
    args += ["--val-share", "0.5", "--reference", str(models[0]), "--device", "cpu"]
    args += ["--threads", "1", "--work", str(work), "--out", str(out)]
    assert load_script("benchmarks/finetune_shift.py").main(args) == 0
    report = json.loads(out.read_text())
    assert report["studio"] == "carvana"
    assert not (work / "tune").exists() and not (work / "test").exists()  # no composites
    assert report["base_dice_new_studio"] == report["base_dice_carvana_studio"]  # same photos
    assert report["base_dice_carvana_studio"] > 0.5  # the trained model finds the real cars
    assert 0 <= report["references"][models[0].name] <= 1
    tuned = report["finetuned"]["all layers"]
    assert 0 <= tuned["test_dice"] <= 1 and tuned["train_seconds"] > 0
    assert len(report["test_cars"]) == 1 and report["tune_photos"] == 4
