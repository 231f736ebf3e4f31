"""Model files: round trip, header contents, and clear errors for bad files."""

import json

import pytest
import torch

from engine.modelfiles.checkpoint import (
    ModelFileError,
    ModelHeader,
    load_model,
    read_header,
    save_model,
)
from engine.modelfiles.header import list_models
from engine.models.unet import UNet, UNetConfig

ARCH = UNetConfig("resnet18", "concat", (32, 16, 16, 8, 8), 32)


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = UNet(ARCH).eval()
    header = ModelHeader(
        "unit",
        input_size=(64, 96),
        threshold=0.4,
        training={"train_photos": 8},
        metrics={"val_dice": 0.91},
    )
    path = save_model(tmp_path / "unit.safetensors", model, header)
    return path, model


def test_round_trip_keeps_architecture_header_and_outputs(model_file):
    path, model = model_file
    loaded, header = load_model(path)
    assert header.arch == ARCH and header.input_size == (64, 96) and header.threshold == 0.4
    assert header.metrics["val_dice"] == 0.91 and header.training["train_photos"] == 8
    assert header.created and header.version and header.dtype == "float16"
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        a, b = torch.sigmoid(model(x)), torch.sigmoid(loaded(x))
    assert torch.allclose(a, b, atol=2e-2)  # fp16 storage


def test_header_is_readable_without_loading_weights(model_file):
    path, _ = model_file
    assert read_header(path).name == "unit"


def test_file_is_safetensors_not_pickle(model_file):
    path, _ = model_file
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    assert json.loads(meta["carmask"])["format"] == "carmask-model"
    assert b"\x80\x04" not in raw[:2]  # no pickle protocol marker at the start


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_truncated_file(model_file, tmp_path):
    path, _ = model_file
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"truncated or corrupt") as err:
        load_model(bad)
    assert "truncated.safetensors" in str(err.value)


def test_tampered_weights_are_detected(model_file, tmp_path):
    path, _ = model_file
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # flip bits inside the last tensor
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(bad)


def test_not_a_model_file(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("hello")
    with pytest.raises(ModelFileError, match=r"junk\.safetensors"):
        read_header(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ModelFileError, match="not a CarMask model"):
        read_header(other)


def test_library_lists_models_and_reports_bad_ones(model_file, tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 10)
    found, errors = list_models(tmp_path)
    assert [p.name for p, _ in found] == ["unit.safetensors"]
    assert len(errors) == 1 and "broken.safetensors" in str(errors[0])
