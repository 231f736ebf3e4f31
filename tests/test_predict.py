"""Prediction on real photos, device policy, precision, TTA, and the majority-vote ensemble."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoint import load_model
from engine.devices import DeviceError, cpu_has_fast_bf16, describe_device, resolve_device
from engine.ensemble import combine
from engine.io import read_mask, read_rgb
from engine.metrics import dice
from engine.predict import LoadedModel, Predictor


def test_trained_model_cuts_out_real_cars_at_full_size(trained_model, carvana):
    predictor = Predictor([trained_model], device="cpu")
    scores = []
    for photo in sorted((carvana / "val").glob("*.jpg")):
        rgb = read_rgb(photo)
        mask = predictor.predict(rgb)
        assert mask.shape == rgb.shape[:2] and mask.dtype == bool
        scores.append(dice(mask, read_mask(carvana / "val_masks" / f"{photo.stem}_mask.gif")))
    assert np.mean(scores) > 0.75  # 32 steps of training on 8 photos already find the cars


def test_full_size_probability_is_smooth_not_blocky(trained_model, carvana):
    predictor = Predictor([trained_model], device="cpu")
    rgb = read_rgb(carvana / "val" / "0ed6904e1004_04.jpg")
    prob = predictor.probabilities(rgb)[0]
    assert prob.shape == rgb.shape[:2]
    # bilinear upsampling of logits gives many distinct values, nearest would give few
    assert len(np.unique(prob.round(4))) > 2000


def test_tta_changes_little_and_stays_valid(trained_model, carvana):
    rgb = read_rgb(carvana / "val" / "1a17a1bd648b_03.jpg")
    a = Predictor([trained_model], device="cpu").predict(rgb)
    b = Predictor([trained_model], device="cpu", tta=True).predict(rgb)
    assert dice(a, b) > 0.9


def test_auto_device_is_named():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert describe_device(dev).startswith(("CPU", "CUDA"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_an_error_not_a_fallback(trained_model):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        Predictor([trained_model], device="cuda")


def test_unknown_device():
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")


def test_majority_vote_by_hand():
    p = [np.array([[0.9, 0.9, 0.1]]), np.array([[0.9, 0.1, 0.1]]), np.array([[0.1, 0.9, 0.9]])]
    assert combine(p, [0.5] * 3).tolist() == [[True, True, False]]


def test_ties_are_broken_by_mean_probability():
    p = [np.array([[0.9, 0.6]]), np.array([[0.2, 0.1]])]  # one vote each on both pixels
    assert combine(p, [0.5, 0.5]).tolist() == [[True, False]]  # means 0.55 and 0.35


def test_each_model_uses_its_own_threshold_and_mean_vote():
    p = [np.array([[0.3]]), np.array([[0.3]]), np.array([[0.3]])]
    assert combine(p, [0.2, 0.2, 0.5]).tolist() == [[True]]
    assert combine(p, [0.5, 0.5, 0.5], "mean").tolist() == [[False]]


def test_ensemble_of_models_at_different_resolutions(trained_model, carvana):
    model, header = load_model(trained_model)
    other, h2 = load_model(trained_model)
    h2.input_size = (128, 192)  # same weights seen at another resolution
    ens = Predictor(
        [LoadedModel(model, header), LoadedModel(other, h2), trained_model], device="cpu"
    )
    rgb = read_rgb(carvana / "val" / "0ed6904e1004_08.jpg")
    mask = ens.predict(rgb)
    single = Predictor([trained_model], device="cpu").predict(rgb)
    assert mask.shape == rgb.shape[:2]
    assert dice(mask, single) > 0.9
    assert "ensemble of 3" in ens.label


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fp16_prediction_matches_cpu(trained_model, carvana):
    rgb = read_rgb(carvana / "val" / "0ed6904e1004_01.jpg")
    gpu = Predictor([trained_model], device="cuda")
    assert gpu.device_label.startswith("CUDA")
    cpu_mask = Predictor([trained_model], device="cpu").predict(rgb)
    assert dice(gpu.predict(rgb), cpu_mask) > 0.99


SHIPPED_DEFAULT = (
    Path(__file__).resolve().parent.parent / "resources/models/cpu-lite0-448x672.safetensors"
)
FULLSIZE = Path(__file__).parent / "data" / "fullsize"


def test_bf16_on_cpu_gives_the_same_cutout_as_fp32_and_says_so():
    """`auto` runs bf16 on a CPU with native bf16 (1.8x faster there): the shipped default's
    masks must stay as good as in float32, and the label must name the precision."""
    fp32 = Predictor([SHIPPED_DEFAULT], device="cpu", precision="fp32")
    bf16 = Predictor([SHIPPED_DEFAULT], device="cpu", precision="bf16")
    auto = Predictor([SHIPPED_DEFAULT], device="cpu")
    assert fp32.dtype == torch.float32 and "bfloat16" not in fp32.device_label
    assert bf16.dtype == torch.bfloat16 and bf16.device_label.endswith(", bfloat16")
    assert auto.dtype == (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    photo = FULLSIZE / "0ed6904e1004_05.jpg"
    rgb, truth = read_rgb(photo), read_mask(FULLSIZE / "0ed6904e1004_05_mask.gif")
    a, b = fp32.predict(rgb), bf16.predict(rgb)
    assert dice(a, b) > 0.998
    assert abs(dice(a, truth) - dice(b, truth)) < 0.0005


def test_unknown_precision():
    with pytest.raises(ValueError, match="unknown precision"):
        Predictor([SHIPPED_DEFAULT], device="cpu", precision="int8")
