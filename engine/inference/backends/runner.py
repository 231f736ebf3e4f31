"""What a backend gives each model: its networks, as that backend runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch


class Runner(Protocol):
    """A model's networks as one backend runs them (`LoadedModel.runner`)."""

    name: str
    dtype: torch.dtype  # what it really computes in

    @property
    def has_refiner(self) -> bool: ...

    def unet(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised 1×3×H×W float32 (H, W multiples of the stride) → 1×1×H×W logits."""
        ...

    def refiner_interior(self, photo: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """`EdgeRefiner.forward_interior` on N tiles (N×3×s×s photo, N×1×s×s logits)."""
        ...
