"""A model ready to predict: its network, its file's header, and its backend's runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.inference.backends.runner import Runner
from engine.modelfiles.checkpoint import ModelHeader
from engine.models.unet import UNet


@dataclass
class LoadedModel:
    model: UNet
    header: ModelHeader
    path: Path | None = None
    # the backend's copy of the networks (`engine.inference.backends`); set by the Predictor
    runner: Runner | None = None
