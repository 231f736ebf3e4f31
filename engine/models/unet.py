"""The paper's U-Net: encoder → 1×1 middle layer → residual decoder → 1×1 head.

A variant is a `UNetConfig`, not a copy of the code: encoder name, join mode (`concat` or `add`),
decoder widths and middle width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.config import JOIN_MODES, UNetConfig
from engine.models.encoders import build_encoder
from engine.models.refiner import EdgeRefiner

__all__ = ["JOIN_MODES", "ResidualConvUnit", "UNet", "UNetConfig"]


def conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResidualConvUnit(nn.Module):
    """conv-BN-ReLU, conv-BN, plus a shortcut (identity, or 1×1 conv-BN when widths differ)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_relu(cin, cout),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class DecoderStep(nn.Module):
    """Upsample ×2, join with the encoder skip (if any), residual unit."""

    def __init__(self, cin: int, cskip: int, cout: int, join: str):
        super().__init__()
        self.join = join
        self.project = None
        if cskip and join == "add" and cskip != cin:
            self.project = nn.Sequential(nn.Conv2d(cskip, cin, 1, bias=False), nn.BatchNorm2d(cin))
        unit_in = cin + cskip if (cskip and join == "concat") else cin
        self.unit = ResidualConvUnit(unit_in, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            if self.join == "concat":
                x = torch.cat([x, skip], dim=1)
            else:
                x = x + (self.project(skip) if self.project is not None else skip)
        return self.unit(x)


class UNet(nn.Module):
    """Returns logits (N×1×H×W) at input size; `predict_proba` applies the sigmoid."""

    def __init__(self, config: UNetConfig | None = None, pretrained: str | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        self.encoder = build_encoder(config.encoder, pretrained)
        chans, strides = self.encoder.out_channels, self.encoder.strides
        self.middle = conv_bn_relu(chans[-1], config.middle_width, k=1)
        # skips at each stride below the deepest one; the last step (to stride 1) has none
        index_by_stride = {s: i for i, s in enumerate(strides[:-1])}
        steps, cin, stride = [], config.middle_width, strides[-1]
        self.skip_index: list[int | None] = []
        for width in config.decoder_widths:
            stride //= 2
            i = index_by_stride.get(stride)
            self.skip_index.append(i)
            steps.append(DecoderStep(cin, chans[i] if i is not None else 0, width, config.join))
            cin = width
        self.decoder = nn.ModuleList(steps)
        self.head = nn.Conv2d(cin, 1, 1)
        # trained separately on full-size photos (engine.training.refiner); `forward` ignores it
        self.refiner = EdgeRefiner(config.refiner_width) if config.refiner_width else None
        self.register_buffer("mean", torch.tensor(self.encoder.mean).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(self.encoder.std).view(1, 3, 1, 1), False)

    @property
    def stride(self) -> int:
        return self.encoder.strides[-1]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (float) → the encoder's normalisation."""
        return (images - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: normalised N×3×H×W, any H, W (padded to the stride and cropped back)."""
        h, w = x.shape[-2:]
        s = self.stride
        ph, pw = (-h) % s, (-w) % s
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        feats = self.encoder(x)
        y = self.middle(feats[-1])
        for step, i in zip(self.decoder, self.skip_index, strict=True):
            y = step(y, feats[i] if i is not None else None)
        logits = self.head(y)
        return logits[..., :h, :w]

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(x))
