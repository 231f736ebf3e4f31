"""The CPU edition's predictor (`engine.inference.lite`): pre-converted OpenVINO files checked by
SHA-256, the torch predictor's masks, and no torch loaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_cache import cached_ir

from engine.inference.backends.export_ir import export_ir
from engine.inference.backends.ir_files import IRFileError, read_ir
from engine.inference.lite import LitePredictor
from engine.io import read_rgb
from engine.training.metrics import dice

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "resources" / "models" / "cpu-lite0-448x672-any-studio.safetensors"
DATA = ROOT / "tests" / "data"
PHOTOS = [
    DATA / "fullsize" / "0ed6904e1004_05.jpg",  # 1918×1280: the model's own aspect
    DATA / "web-cars" / "images" / "rf_valid_Carro_23.jpg",  # 480×360: 4:3, padded to stride
]


@pytest.fixture(scope="module")
def exported() -> Path:
    """The shipped default (with its edge refiner) exported once, kept in the test cache."""
    return cached_ir(DEFAULT)


def test_the_lite_predictor_cuts_out_the_same_cars_as_the_torch_predictor(exported):
    from engine.inference.predict import Predictor

    lite = LitePredictor([exported], threads=1)
    full = Predictor([DEFAULT], device="cpu", precision="fp32", backend="openvino")
    assert lite.label == full.label
    assert lite.device_label == "CPU (1 thread), OpenVINO, float32"
    for photo in PHOTOS:
        rgb = read_rgb(photo)
        a, b = lite.predict_matte(rgb, checked=True), full.predict_matte(rgb, checked=True)
        assert a.mask.shape == rgb.shape[:2] and a.mask.any()
        assert dice(a.mask, b.mask) >= 0.9999, photo.name
        assert np.abs(a.alpha.astype(int) - b.alpha.astype(int)).max() <= 1, photo.name
        assert abs(a.confidence.value - b.confidence.value) < 1e-3, photo.name
        assert dice(lite.predict(rgb), a.mask) == 1.0


@pytest.mark.parametrize("name", ["unet.bin", "unet.xml", "refiner.bin", "source.json"])
def test_a_changed_byte_in_a_converted_file_is_refused_naming_the_file(exported, tmp_path, name):
    folder = tmp_path / "ir"
    shutil.copytree(exported, folder)
    path = folder / name
    if name == "source.json":  # a plausible edit: a lower threshold, the JSON still valid
        body = json.loads(path.read_text())
        body["header"]["threshold"] = 0.3
        path.write_text(json.dumps(body))
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    with pytest.raises(IRFileError) as caught:
        LitePredictor([folder], threads=1)
    assert caught.value.path.name == name
    assert name in str(caught.value) and "SHA-256" in str(caught.value)
    assert "export it again" in str(caught.value)


def test_a_folder_without_its_sidecar_or_a_file_is_refused(exported, tmp_path):
    folder = tmp_path / "ir"
    shutil.copytree(exported, folder)
    (folder / "refiner.xml").unlink()
    with pytest.raises(IRFileError, match=r"refiner\.xml is missing"):
        read_ir(folder)
    (folder / "source.json").unlink()
    with pytest.raises(IRFileError, match=r"source\.json is missing"):
        read_ir(folder)


def test_a_model_file_given_to_the_lite_predictor_says_it_needs_the_full_edition():
    with pytest.raises(IRFileError, match="needs the full edition") as caught:
        LitePredictor([DEFAULT], threads=1)
    assert caught.value.path == DEFAULT and "export_ir" in str(caught.value)


def test_export_never_writes_into_a_folder_that_holds_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        export_ir(DEFAULT, folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no half-written folder left


def test_predicting_with_the_lite_predictor_never_loads_torch(exported):
    script = (
        "import sys\n"
        "from engine.inference.lite import LitePredictor\n"
        "from engine.io import read_rgb\n"
        f"mask = LitePredictor([{str(exported)!r}], threads=1).predict_matte("
        f"read_rgb({str(PHOTOS[1])!r}), checked=True).mask\n"
        "assert mask.any()\n"
        "print('torch loaded:', 'torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "torch loaded: False False" in done.stdout


def test_the_numpy_steps_feed_and_refine_exactly_as_the_torch_steps():
    """The input (resize, stride padding, normalisation), the upsampling and the edge refiner's
    tiling, each written once in numpy for the CPU edition, against the torch model's own."""
    import torch
    import torch.nn.functional as F

    from engine.inference.arrays import (
        fit_to_input,
        input_geometry,
        normalise,
        refine_tiles,
        upsample,
    )
    from engine.inference.predict import to_input_tensor
    from engine.modelfiles.checkpoint import load_model

    model, header = load_model(DEFAULT, torch.device("cpu"))
    rgb = read_rgb(PHOTOS[1])  # 4:3: resized and padded to the stride
    content, padded = input_geometry(rgb.shape[:2], header.input_size, model.stride)
    assert content != padded
    x = model.normalize(to_input_tensor(rgb, content, torch.device("cpu"), padded))
    ours = normalise(fit_to_input(rgb, content, padded), model.mean.flatten(), model.std.flatten())
    np.testing.assert_array_equal(ours, x.numpy())
    with torch.inference_mode():
        small = model(x)[..., : content[0], : content[1]]
        logits = F.interpolate(small, size=rgb.shape[:2], mode="bilinear", align_corners=False)
        photo = torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)
        expected = model.refiner.refine(photo, logits[0, 0]).numpy()
        refiner = model.refiner

        def interior(p: np.ndarray, lg: np.ndarray) -> np.ndarray:
            return refiner.forward_interior(torch.from_numpy(p), torch.from_numpy(lg)).numpy()

        flat = logits[0, 0].numpy()
        # OpenCV's bilinear weights are rounded a little differently from torch's
        np.testing.assert_allclose(upsample(small[0, 0].numpy(), rgb.shape[:2]), flat, atol=2e-4)
        got = refine_tiles(rgb, flat, interior, refiner.tile, refiner.margin, refiner.band)
    assert (np.abs(flat) < refiner.band).any() and not np.array_equal(expected, flat)
    np.testing.assert_allclose(got, expected, atol=1e-5)
