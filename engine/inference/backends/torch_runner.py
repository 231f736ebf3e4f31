"""PyTorch itself as a backend: the model's own networks (the only backend on CUDA)."""

from __future__ import annotations

import torch

from engine.models.unet import UNet


class TorchRunner:
    name = "torch"

    def __init__(self, model: UNet, dtype: torch.dtype):
        self.model, self.dtype = model, dtype

    @property
    def has_refiner(self) -> bool:
        return self.model.refiner is not None

    def unet(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def refiner_interior(self, photo: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        assert self.model.refiner is not None
        return self.model.refiner.forward_interior(photo, logits)


def load_runner(lm, dtype: torch.dtype, place: tuple[int, int] = (1, 1)) -> TorchRunner:
    return TorchRunner(lm.model, dtype)
