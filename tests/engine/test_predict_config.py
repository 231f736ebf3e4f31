"""What a prediction runs with (`engine.inference.config.PredictConfig`): built from the CLI's
options in one place, without torch, and checked by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.cli.common import predict_config
from engine.cli.parser import build_parser
from engine.inference.backends import BackendError, backend_names
from engine.inference.config import Backend, Precision, PredictConfig, Vote
from engine.io import read_mask, read_rgb

ROOT = Path(__file__).resolve().parents[2]


def test_the_predict_options_reach_the_predictor_through_its_config(
    trained_model, carvana, tmp_path, capsys
):
    from engine.inference.predict import Predictor

    photo = carvana / "val" / "1a17a1bd648b_03.jpg"
    argv = ["predict", str(photo), "--out", str(tmp_path / "o"), "--model", str(trained_model)]
    argv += ["--device", "cpu", "--backend", "torch", "--precision", "fp32", "--tta", "-q"]
    argv += ["--format", "mask", "--lanes", "1", "--keep-all-objects"]
    config = predict_config(build_parser().parse_args(argv))
    assert config.models == (trained_model,)
    assert (config.backend, config.precision, config.vote) == ("torch", "fp32", "majority")
    assert config.tta and config.keep_all_objects and config.lanes == 1

    assert main(argv) == 0
    assert "device: CPU (1 thread), PyTorch, float32" in capsys.readouterr().out
    predictor = Predictor.from_config(config)
    assert predictor.tta and predictor.backend == "torch" and predictor.keep_all_objects
    written = read_mask(tmp_path / "o" / "1a17a1bd648b_03_mask.png")
    assert np.array_equal(written, predictor.predict(read_rgb(photo)))  # the mirrored photo too


def test_the_prediction_settings_load_without_torch():
    """The CLI reads its options (and `--help` answers) before torch loads."""
    code = (
        "import sys, engine.inference.config, engine.cli.common\n"
        "c = engine.cli.common.predict_config\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n"
        "sys.exit('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_an_unknown_backend_is_refused_naming_the_registered_ones(trained_model):
    from engine.inference.predict import Predictor

    assert {"torch", "openvino"} <= set(backend_names())
    for make in (
        lambda: PredictConfig(models=(trained_model,), backend="tpu"),
        lambda: Predictor([trained_model], device="cpu", backend="tpu"),
    ):
        with pytest.raises(BackendError, match="unknown backend 'tpu'") as error:
            make()
        assert all(name in str(error.value) for name in ("auto", *backend_names()))


def test_the_choices_keep_the_strings_of_the_options_and_saved_settings():
    config = PredictConfig(backend="openvino", precision="bf16", vote="mean")
    assert config.backend is Backend.OPENVINO and config.precision is Precision.BF16
    assert config.vote is Vote.MEAN
    assert [f"{config.backend}", str(config.precision), config.vote] == ["openvino", "bf16", "mean"]
    with pytest.raises(ValueError, match="unknown precision 'int8'; use one of auto, fp32, bf16"):
        PredictConfig(precision="int8")
