"""Prediction on real photos, device policy, precision, TTA, and the majority-vote ensemble."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.inference.devices import DeviceError, cpu_has_fast_bf16, describe_device, resolve_device
from engine.inference.ensemble import combine
from engine.inference.predict import LoadedModel, Predictor, input_geometry, to_input_tensor
from engine.io import read_mask, read_rgb
from engine.modelfiles.checkpoint import load_model
from engine.training.metrics import dice


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
    Path(__file__).resolve().parents[2] / "resources/models/cpu-lite0-448x672.safetensors"
)
FULLSIZE = Path(__file__).parents[1] / "data" / "fullsize"


def test_bf16_on_cpu_gives_the_same_cutout_as_fp32_and_says_so():
    """`auto` runs bf16 on a CPU with native bf16 (1.8x faster there): the shipped default's
    masks must stay as good as in float32, and the label must name the precision. (PyTorch's
    autocast: it runs bf16 even where it is emulated; OpenVINO's are in test_backends.py.)"""
    fp32 = Predictor([SHIPPED_DEFAULT], device="cpu", precision="fp32", backend="torch")
    bf16 = Predictor([SHIPPED_DEFAULT], device="cpu", precision="bf16", backend="torch")
    auto = Predictor([SHIPPED_DEFAULT], device="cpu", backend="torch")
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


# --- photos of any shape and size: the aspect ratio is kept, not squashed -----------------------

MODEL_HW = (448, 672)  # the shipped default's input size (3:2)


def test_carvana_photos_get_exactly_the_model_size():
    assert input_geometry((1280, 1918), MODEL_HW, 32) == (MODEL_HW, MODEL_HW)  # 0.1 % off 3:2
    assert input_geometry((320, 480), MODEL_HW, 32) == (MODEL_HW, MODEL_HW)
    assert input_geometry((1280, 1918), (96, 144), 32) == ((96, 144), (96, 144))  # off-stride
    assert input_geometry((1000, 1509), MODEL_HW, 32) == (MODEL_HW, MODEL_HW)  # 0.6 % off


@pytest.mark.parametrize(
    "photo",
    [(1280, 1706), (600, 800), (6000, 8000), (1080, 1920), (1000, 1000), (1706, 1280),
     (1918, 1280), (8000, 6000), (2558, 1918), (333, 517), (1280, 1950)],
)  # fmt: skip
def test_other_photos_keep_their_aspect_and_the_pixel_budget(photo):
    stride = 32
    (h, w), (ph, pw) = input_geometry(photo, MODEL_HW, stride)
    # the aspect ratio is kept to the rounding of a pixel per side
    assert abs(w / h - photo[1] / photo[0]) <= (w / h) * (1 / h + 1 / w)
    assert abs(h * w / (MODEL_HW[0] * MODEL_HW[1]) - 1) < 0.01  # the same pixel budget
    assert ph % stride == 0 and pw % stride == 0
    assert h <= ph < h + stride and w <= pw < w + stride


def test_input_geometry_of_thin_and_tiny_photos():
    (h, w), (ph, pw) = input_geometry((10, 5000), MODEL_HW, 32)
    assert h == 32 and ph == 32 and pw % 32 == 0 and w >= 4000  # never below one stride
    assert input_geometry((5000, 10), MODEL_HW, 32)[1][1] == 32
    (h, w), padded = input_geometry((3, 4), MODEL_HW, 32)  # tiny photos are scaled up
    assert abs(h * w / (MODEL_HW[0] * MODEL_HW[1]) - 1) < 0.01 and padded == (480, 640)
    with pytest.raises(ValueError, match="empty photo"):
        input_geometry((0, 100), MODEL_HW, 32)


def test_input_tensor_is_padded_with_the_edge_pixels():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 70, 3), np.uint8)
    t = to_input_tensor(rgb, (50, 70), torch.device("cpu"), (64, 96))
    assert t.shape == (1, 3, 64, 96)
    assert torch.equal(t[0, :, :50, :70], torch.from_numpy(rgb).permute(2, 0, 1) / 255.0)
    assert torch.equal(t[..., 50:, :70], t[..., 49:50, :70].expand(-1, -1, 14, -1))
    assert torch.equal(t[..., 69:70].expand(-1, -1, -1, 26), t[..., 70:])
    assert to_input_tensor(rgb, (25, 35), torch.device("cpu")).shape == (1, 3, 25, 35)


def old_squashed_logits(lm: LoadedModel, rgb: np.ndarray) -> torch.Tensor:
    """What Predictor did before aspect ratios were kept: the photo squashed to the input size."""
    x = lm.model.normalize(to_input_tensor(rgb, lm.header.input_size, torch.device("cpu")))
    logits = lm.model(x)
    return F.interpolate(logits, size=rgb.shape[:2], mode="bilinear", align_corners=False)[0, 0]


@torch.inference_mode()
def test_carvana_photos_are_predicted_exactly_as_before(trained_model, carvana):
    predictor = Predictor([trained_model], device="cpu", precision="fp32", backend="torch")
    lm = predictor.models[0]
    rgb = read_rgb(carvana / "val" / "1a17a1bd648b_07.jpg")  # 480x320 for a 96x144 model
    assert torch.equal(predictor.full_size_logits(lm, rgb), old_squashed_logits(lm, rgb))


def test_odd_sized_photos_come_back_at_their_own_size_with_tta(trained_model, carvana):
    predictor = Predictor([trained_model], device="cpu", tta=True)  # the flip sees the padding
    rgb = read_rgb(carvana / "val" / "0ed6904e1004_04.jpg")
    truth = read_mask(carvana / "val_masks" / "0ed6904e1004_04_mask.gif")
    reference = dice(predictor.predict(rgb), truth)
    # 4:3 around the car (417x320), then a portrait made by extending floor and wall (417x556)
    rgb43, truth43 = np.ascontiguousarray(rgb[:, 32:449]), np.ascontiguousarray(truth[:, 32:449])
    tall = cv2.copyMakeBorder(rgb43, 118, 118, 0, 0, cv2.BORDER_REPLICATE)
    for photo, mask in ((rgb43, truth43), (tall, np.pad(truth43, ((118, 118), (0, 0))))):
        out = predictor.predict(photo)
        assert out.shape == photo.shape[:2] and out.dtype == bool
        assert dice(out, mask) > reference - 0.05  # a 32-step model: a loose bar


def car_in_other_shapes(rgb: np.ndarray, truth: np.ndarray) -> dict:
    """A 1918x1280 Carvana photo as a 4:3 photo (cropped to 1706x1280 around the car) and as a
    3:4 portrait (floor and wall extended to 1918x2558, the car in the middle, as in a portrait
    shot of a car), the true mask cropped and padded alike. (Turning the photo 90° is no test:
    the model has never seen a car on its side, squashed or not.)"""
    xs = np.nonzero(truth.any(axis=0))[0]
    x0 = int(np.clip((xs.min() + xs.max()) // 2 - 853, 0, truth.shape[1] - 1706))
    pad = (2558 - truth.shape[0]) // 2
    return {
        "4:3": (np.ascontiguousarray(rgb[:, x0 : x0 + 1706]), truth[:, x0 : x0 + 1706]),
        "3:4": (
            cv2.copyMakeBorder(rgb, pad, pad, 0, 0, cv2.BORDER_REPLICATE),
            np.pad(truth, ((pad, pad), (0, 0))),
        ),
    }


def test_shipped_default_cuts_out_4_3_and_portrait_photos_as_well_as_carvana_ones(monkeypatch):
    # the model's own masks: the main-object step (engine.matte.select) would tidy the squashed
    # portrait's stray blobs away (0.951 -> 0.986) and hide what the geometry does
    predictor = Predictor([SHIPPED_DEFAULT], device="cpu", keep_all_objects=True)
    photo = FULLSIZE / "3071362591f7_13.jpg"
    rgb, truth = read_rgb(photo), read_mask(FULLSIZE / f"{photo.stem}_mask.gif")
    reference = dice(predictor.predict(rgb), truth)  # 0.9944
    assert reference > 0.99
    scores = {}
    for shape, (photo, mask) in car_in_other_shapes(rgb, truth).items():
        out = predictor.predict(photo)
        assert out.shape == photo.shape[:2] == mask.shape
        scores[shape] = dice(out, mask)
    assert abs(scores["4:3"] - reference) < 0.01, scores  # 0.9947
    assert abs(scores["3:4"] - reference) < 0.01, scores  # 0.9933
    # squashing the portrait into 448x672 (the old way) flattens the car to half its height: 0.951
    model_size = predictor.models[0].header.input_size
    monkeypatch.setattr(
        "engine.inference.predict.input_geometry",
        lambda photo, model, stride: (model_size, model_size),
    )
    photo, mask = car_in_other_shapes(rgb, truth)["3:4"]
    assert dice(predictor.predict(photo), mask) < scores["3:4"] - 0.02
