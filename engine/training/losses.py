"""The paper's loss: BCE + focal + soft Dice (L2 is the optimiser's weight decay, 1e-4).

All functions take logits (N×1×H×W) and a target of the same shape with values in [0, 1], and
return the mean over the batch. Working on logits keeps the log terms numerically stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross entropy −[y log p + (1−y) log(1−p)]."""
    return F.binary_cross_entropy_with_logits(logits, target)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Mean focal loss −[y (1−p)^γ log p + (1−y) p^γ log(1−p)] (Lin et al.; γ=0 gives BCE)."""
    log_p = F.logsigmoid(logits)
    log_1mp = F.logsigmoid(-logits)
    p = log_p.exp()
    loss = -(target * (1 - p).pow(gamma) * log_p + (1 - target) * p.pow(gamma) * log_1mp)
    return loss.mean()


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 − soft Dice per image, 2ΣPY / (ΣP + ΣY), averaged over the batch (eps smooths empties)."""
    p = torch.sigmoid(logits).flatten(1)
    y = target.flatten(1)
    inter = (p * y).sum(1)
    dice = (2 * inter + eps) / (p.sum(1) + y.sum(1) + eps)
    return (1 - dice).mean()


@dataclass
class LossParts:
    total: torch.Tensor
    bce: torch.Tensor
    focal: torch.Tensor
    dice: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("total", "bce", "focal", "dice")}


class CombinedLoss(nn.Module):
    """BCE + focal + soft Dice, each with a weight (1 by default, as in the paper)."""

    def __init__(
        self, gamma: float = 2.0, w_bce: float = 1.0, w_focal: float = 1.0, w_dice: float = 1.0
    ):
        super().__init__()
        self.gamma, self.w_bce, self.w_focal, self.w_dice = gamma, w_bce, w_focal, w_dice

    def parts(self, logits: torch.Tensor, target: torch.Tensor) -> LossParts:
        logits = logits.float()
        target = target.float()
        b = bce_loss(logits, target)
        f = focal_loss(logits, target, self.gamma)
        d = soft_dice_loss(logits, target)
        return LossParts(self.w_bce * b + self.w_focal * f + self.w_dice * d, b, f, d)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.parts(logits, target).total
