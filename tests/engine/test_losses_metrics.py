"""Losses against values computed by hand, gradient signs, and Kaggle-style Dice/IoU."""

import math

import numpy as np
import pytest
import torch

from engine.training.losses import CombinedLoss, bce_loss, focal_loss, soft_dice_loss
from engine.training.metrics import dice, iou, mean_dice


def logit(p):
    return math.log(p / (1 - p))


P = [0.9, 0.2, 0.6, 0.3]
Y = [1.0, 0.0, 0.0, 1.0]


def _xy():
    x = torch.tensor([logit(p) for p in P]).view(1, 1, 2, 2).requires_grad_()
    return x, torch.tensor(Y).view(1, 1, 2, 2)


def test_bce_by_hand():
    x, y = _xy()
    want = -np.mean(
        [yy * math.log(p) + (1 - yy) * math.log(1 - p) for p, yy in zip(P, Y, strict=True)]
    )
    assert bce_loss(x, y).item() == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
def test_focal_by_hand(gamma):
    x, y = _xy()
    want = -np.mean(
        [
            yy * (1 - p) ** gamma * math.log(p) + (1 - yy) * p**gamma * math.log(1 - p)
            for p, yy in zip(P, Y, strict=True)
        ]
    )
    assert focal_loss(x, y, gamma).item() == pytest.approx(want, rel=1e-5)


def test_focal_with_gamma_zero_is_bce():
    x, y = _xy()
    assert focal_loss(x, y, 0.0).item() == pytest.approx(bce_loss(x, y).item(), rel=1e-6)


def test_soft_dice_by_hand():
    x, y = _xy()
    inter = sum(p * yy for p, yy in zip(P, Y, strict=True))
    want = 1 - (2 * inter + 1) / (sum(P) + sum(Y) + 1)
    assert soft_dice_loss(x, y).item() == pytest.approx(want, rel=1e-5)


def test_combined_is_the_sum_and_gradients_point_the_right_way():
    x, y = _xy()
    parts = CombinedLoss(gamma=2.0).parts(x, y)
    assert parts.total.item() == pytest.approx(
        parts.bce.item() + parts.focal.item() + parts.dice.item(), rel=1e-6
    )
    parts.total.backward()
    g = x.grad.flatten().tolist()
    # car pixels (y=1): raising the logit lowers the loss; background pixels: the opposite
    assert g[0] < 0 and g[3] < 0
    assert g[1] > 0 and g[2] > 0


def test_perfect_prediction_has_lower_loss_than_a_wrong_one():
    y = torch.tensor(Y).view(1, 1, 2, 2)
    good = (y * 2 - 1) * 8
    loss = CombinedLoss()
    assert loss(good, y).item() < 0.01 < loss(-good, y).item()


def test_dice_and_iou_by_hand():
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[1, 0, 1, 0]], bool)
    assert dice(a, b) == pytest.approx(0.5)
    assert iou(a, b) == pytest.approx(1 / 3)
    assert dice(a, a) == 1.0 and iou(a, a) == 1.0


def test_empty_masks_score_one_as_kaggle_does():
    z = np.zeros((3, 3), bool)
    assert dice(z, z) == 1.0 and iou(z, z) == 1.0
    assert dice(z, ~z) == 0.0


def test_mean_dice_averages_per_image_not_per_pixel():
    big = np.ones((10, 10), bool)
    small_truth = np.zeros((10, 10), bool)
    small_truth[0, 0] = True
    pairs = [(big, big), (np.zeros((10, 10), bool), small_truth)]
    assert mean_dice(pairs) == pytest.approx(0.5)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        dice(np.zeros((2, 3)), np.zeros((3, 2)))
