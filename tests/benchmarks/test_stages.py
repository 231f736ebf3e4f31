"""benchmarks/stages.py times the predictor's own public steps, not a copy of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.inference.config import PredictConfig
from engine.inference.predict import Predictor
from engine.io import read_rgb

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "cpu-lite0-448x672-any-studio.safetensors"  # refiner
PHOTO = ROOT / "tests" / "data" / "fullsize" / "0ed6904e1004_05.jpg"


def test_the_stages_benchmark_cuts_out_what_the_predictor_does(tmp_path, load_script):
    stages = load_script("benchmarks/stages.py")
    config = PredictConfig(models=(MODEL,), device="cpu", backend="torch", precision="fp32")
    predictor = Predictor.from_config(config)
    times = stages.stage_times(predictor, PHOTO, tmp_path)
    assert set(times) == set(stages.STAGES) and all(t >= 0 for t in times.values())
    written = np.asarray(Image.open(tmp_path / f"{PHOTO.stem}.png"))[..., 3] > 127
    lm, rgb = predictor.models[0], read_rgb(PHOTO)
    expected = predictor.threshold(predictor.full_size_logits(lm, rgb))  # refined, thresholded
    assert np.array_equal(written, expected)
    assert expected.mean() > 0.1  # a car
