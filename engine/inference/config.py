"""What a prediction runs with: `PredictConfig`, and the engine's choices as enums.

The CLI builds a `PredictConfig` from its options (`engine.cli.common.predict_config`, the one
place that reads them); the predictor, the batch's lanes (`engine.inference.lanes`), the hot
folder and the cluster's actors are built from it. It imports no torch, so the CLI parses its
options (and `--help` answers) before torch loads. The choices are `str` enums: their values are
the exact strings of the CLI's options and of saved settings ("auto", "fp32", "majority"...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from engine.inference.backends.registry import BackendError, backend_names


class Choice(str, Enum):
    """A choice whose value is its option string; `str()` and f-strings give that string."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(str(c.value) for c in cls)


class Device(Choice):
    """Which device runs the models (`engine.inference.devices`; "cuda:N" picks a GPU)."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class Precision(Choice):
    """What the models compute in (`engine.inference.devices.inference_dtype`)."""

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"


class Vote(Choice):
    """How an ensemble combines its models' masks (`engine.inference.ensemble.combine`)."""

    MAJORITY = "majority"
    MEAN = "mean"


class Backend(Choice):
    """What runs the networks (`engine.inference.backends`): `auto` picks one for the device;
    each other value is a backend registered there."""

    AUTO = "auto"
    TORCH = "torch"
    OPENVINO = "openvino"


def _choice(kind: type[Choice], value: object, what: str) -> Choice:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(kind.values())
        raise ValueError(f"unknown {what} '{value}'; use one of {known}") from None


def backend_choice(value: object) -> Backend:
    """`value` as a `Backend`; an unknown name is a `BackendError` listing the registered ones."""
    names = ("auto", *backend_names())
    if isinstance(value, Backend) or value in names:
        try:
            return Backend(value)
        except ValueError:
            pass
    raise BackendError(f"unknown backend '{value}'; use one of {', '.join(names)}")


@dataclass(frozen=True)
class PredictConfig:
    """Everything a prediction is run with; strings are taken for the enums (and checked)."""

    models: tuple[Path, ...] = ()  # the model files (several: an ensemble)
    device: str = "auto"  # a `Device`, or "cuda:N"
    backend: Backend = Backend.AUTO
    precision: Precision = Precision.AUTO
    tta: bool = False  # also predict the mirrored photo
    vote: Vote = Vote.MAJORITY
    refine: bool = True  # run a model file's edge refiner
    keep_all_objects: bool = False  # no main-object step (`engine.matte.select`)
    lanes: int = 0  # photos segmented at once (0: as `engine.inference.lanes` chooses)

    def __post_init__(self) -> None:
        models = tuple(Path(os.fspath(m)) for m in self.models)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "device", str(self.device or "auto").lower())
        object.__setattr__(self, "backend", backend_choice(self.backend))
        object.__setattr__(self, "precision", _choice(Precision, self.precision, "precision"))
        object.__setattr__(self, "vote", _choice(Vote, self.vote, "vote method"))
        if self.lanes < 0:
            raise ValueError(f"lanes must be 0 (automatic) or more, not {self.lanes}")
