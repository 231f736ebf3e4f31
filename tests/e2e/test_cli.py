"""`carmask` end to end on real photos, with bad files mixed in."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cutout_checks import assert_cutout_of
from PIL import Image

from engine.cli import main
from engine.io import read_mask, read_rgb


@pytest.fixture
def batch(tmp_path, carvana):
    """A studio folder: real photos (one CMYK, one 16-bit PNG) and three broken files."""
    src = tmp_path / "shoot"
    (src / "car_b").mkdir(parents=True)
    photos = sorted((carvana / "val").glob("*.jpg"))[:3]
    for p in photos:
        shutil.copy(p, src / p.name)
    Image.open(photos[0]).convert("CMYK").save(src / "car_b" / "cmyk_01.jpg")
    grey16 = np.asarray(Image.open(photos[1]).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey16).save(src / "car_b" / "grey16_02.png")
    (src / "zero_bytes.jpg").write_bytes(b"")
    (src / "notes.jpg").write_text("this is not a photo")
    raw = photos[2].read_bytes()
    (src / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    return src


def _snapshot(folder: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_predict_keeps_going_past_bad_files(batch, trained_model, tmp_path, capsys):
    before = _snapshot(batch)
    out = tmp_path / "cutouts"
    code = main(
        [
            "predict",
            str(batch),
            "--out",
            str(out),
            "--model",
            str(trained_model),
            "--format",
            "png",
            "--format",
            "mask",
            "--device",
            "cpu",
            "-q",
        ]
    )
    text = capsys.readouterr().out
    assert code == 1  # some photos failed
    assert "done: 5, failed: 3" in text and "CPU" in text
    assert "zero_bytes.jpg: empty file" in text
    assert "notes.jpg: not an image" in text
    assert "truncated.jpg: truncated or corrupt" in text
    for stem in ("cmyk_01", "grey16_02", "0ed6904e1004_01"):
        rgba = np.asarray(Image.open(out / f"{stem}.png"))
        assert rgba.shape[2] == 4
        mask = read_mask(out / f"{stem}_mask.png")
        assert np.array_equal(rgba[..., 3] > 127, mask)
        assert 0.05 < mask.mean() < 0.95
    photo = sorted(batch.glob("0ed6904e1004_*.jpg"))[0]
    assert_cutout_of(np.asarray(Image.open(out / f"{photo.stem}.png")), read_rgb(photo))
    assert _snapshot(batch) == before  # originals untouched
    assert not list(out.glob(".*tmp"))  # no temp files left


def test_predict_all_good_exits_zero_and_writes_jpeg_on_colour(
    trained_model, carvana, tmp_path, capsys
):
    photo = carvana / "val" / "1a17a1bd648b_07.jpg"
    out = tmp_path / "o"
    code = main(
        [
            "predict",
            str(photo),
            "--out",
            str(out),
            "--model",
            str(trained_model),
            "--format",
            "jpg",
            "--background",
            "#00FF00",
            "-q",
        ]
    )
    assert code == 0
    jpg = np.asarray(Image.open(out / "1a17a1bd648b_07.jpg"))
    assert jpg.shape[:2] == (320, 480)
    assert abs(int(jpg[2, 2, 1]) - 255) < 10 and jpg[2, 2, 0] < 20  # corner is background


def test_unwritable_output_folder_is_reported_per_photo(trained_model, carvana, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code = main(
        [
            "predict",
            str(carvana / "val"),
            "--out",
            str(blocker / "out"),
            "--model",
            str(trained_model),
            "-q",
        ]
    )
    text = capsys.readouterr().out
    assert code == 1
    assert "done: 0, failed: 7" in text
    assert "0ed6904e1004_01.png" in text


def test_no_inputs_found_is_a_failure(trained_model, tmp_path, capsys):
    assert (
        main(
            [
                "predict",
                str(tmp_path / "missing"),
                "--out",
                str(tmp_path / "o"),
                "--model",
                str(trained_model),
                "-q",
            ]
        )
        == 1
    )
    assert "not found" in capsys.readouterr().out


def test_cuda_without_gpu_fails_clearly(trained_model, carvana, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    code = main(
        [
            "predict",
            str(carvana / "val"),
            "--out",
            str(tmp_path / "o"),
            "--model",
            str(trained_model),
            "--device",
            "cuda",
        ]
    )
    assert code == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_missing_default_model_says_what_to_do(tmp_path, monkeypatch, capsys, carvana):
    monkeypatch.setenv("CARMASK_RESOURCES", str(tmp_path))
    code = main(["predict", str(carvana / "val"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--model" in capsys.readouterr().err


def test_shipped_default_is_used_without_flags(
    trained_model, carvana, tmp_path, monkeypatch, capsys
):
    models = tmp_path / "res" / "models"
    models.mkdir(parents=True)
    shutil.copy(trained_model, models / "default.safetensors")
    (models / "manifest.json").write_text(
        '{"default": "default.safetensors", "ensemble": ["default.safetensors"]}'
    )
    monkeypatch.setenv("CARMASK_RESOURCES", str(tmp_path / "res"))
    photo = carvana / "val" / "1a17a1bd648b_03.jpg"
    assert main(["predict", str(photo), "--out", str(tmp_path / "o"), "-q"]) == 0
    assert (tmp_path / "o" / "1a17a1bd648b_03.png").exists()
    assert main(["models", "list"]) == 0
    assert "default.safetensors" in capsys.readouterr().out


def test_evaluate_prints_dice_per_model_and_ensemble(trained_model, carvana, tmp_path, capsys):
    second = tmp_path / "second.safetensors"
    shutil.copy(trained_model, second)
    code = main(
        [
            "evaluate",
            "--images",
            str(carvana / "val"),
            "--masks",
            str(carvana / "val_masks"),
            "--model",
            str(trained_model),
            "--model",
            str(second),
            "-q",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "tiny.safetensors: mean Dice 0." in text and "second.safetensors" in text
    assert "ensemble (majority vote): mean Dice" in text and "over 7 photos" in text
    dice = float(text.split("tiny.safetensors: mean Dice ")[1].split()[0])
    assert dice > 0.75


def test_entry_point_runs_as_a_real_command(trained_model, carvana, tmp_path):
    exe = Path(sys.executable).with_name("carmask")
    r = subprocess.run(
        [
            str(exe),
            "predict",
            str(carvana / "val" / "0ed6904e1004_12.jpg"),
            "--out",
            str(tmp_path),
            "--model",
            str(trained_model),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "done: 1, failed: 0" in r.stdout and "device: CPU" in r.stderr
    assert "photos" in r.stderr  # the progress bar
