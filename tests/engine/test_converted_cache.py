"""The converted-model cache (`engine.inference.backends.cache`) checks its files: a damaged copy
is built
again, with a warning, before it cuts out a single photo."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from engine.inference.backends.cache import SOURCE
from engine.inference.predict import Predictor
from engine.io import read_rgb

PHOTO = Path(__file__).parents[1] / "data" / "fullsize" / "0ed6904e1004_05.jpg"


@pytest.fixture
def converted(tmp_path, monkeypatch, trained_model):
    """A fresh cache holding the tiny model's converted copy, and the mask it gives."""
    cache = tmp_path / "converted"
    monkeypatch.setenv("CARMASK_CONVERTED", str(cache))
    clean = Predictor([trained_model], device="cpu", precision="fp32", backend="openvino")
    (entry,) = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return entry, clean.predict(read_rgb(PHOTO))


def predict_again(trained_model, caplog):
    with caplog.at_level(logging.WARNING):
        again = Predictor([trained_model], device="cpu", precision="fp32", backend="openvino")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return again, again.predict(read_rgb(PHOTO)), warnings


def test_flipped_bytes_in_the_converted_weights_are_caught_and_the_copy_rebuilt(
    converted, trained_model, caplog
):
    entry, clean_mask = converted
    weights = entry / "unet.bin"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(b ^ 0xFF for b in data[middle : middle + 2000])
    weights.write_bytes(bytes(data))

    again, mask, warnings = predict_again(trained_model, caplog)
    assert again.backend == "openvino"
    assert np.array_equal(mask, clean_mask), "the damaged weights cut out the photo"
    assert any(
        "unet.bin does not match its SHA-256" in w and "building it again" in w for w in warnings
    ), warnings


def test_an_entry_without_its_source_file_is_rebuilt_not_left_to_pytorch(
    converted, trained_model, caplog
):
    entry, clean_mask = converted
    (entry / SOURCE).unlink()

    again, mask, warnings = predict_again(trained_model, caplog)
    assert again.backend == "openvino", again.device_label  # not "OpenVINO failed: ..."
    assert (entry / SOURCE).is_file()
    assert np.array_equal(mask, clean_mask)
    assert any(f"{SOURCE} is missing" in w for w in warnings), warnings
