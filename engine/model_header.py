"""A model file's header, read without torch (fast: listing the model library, app start-up).

safetensors keeps a JSON metadata block before the weights; CarMask stores its `ModelHeader` there:
what is needed to rebuild and feed the model and what a person wants to know about it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from safetensors import SafetensorError, safe_open

from engine import __version__
from engine.models.config import UNetConfig

MODEL_SUFFIX = ".safetensors"
FORMAT_NAME = "carmask-model"
FORMAT_VERSION = 1
_HEADER_KEY = "carmask"


class ModelFileError(Exception):
    """A model file is missing, truncated, tampered with or not a CarMask model."""

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass
class ModelHeader:
    """What a model file says about its model."""

    name: str
    arch: UNetConfig = field(default_factory=UNetConfig)
    input_size: tuple[int, int] = (1024, 1024)  # (height, width) the model sees
    threshold: float = 0.5
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    training: dict = field(default_factory=dict)  # data summary, recipe, epochs, licence note
    metrics: dict = field(default_factory=dict)  # e.g. {"val_dice": 0.996, "val_photos": 256}
    created: str = ""
    version: str = __version__
    dtype: str = "float16"
    sha256: str = ""

    def to_json(self) -> str:
        d = asdict(self)
        d["format"], d["format_version"] = FORMAT_NAME, FORMAT_VERSION
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelHeader:
        d = json.loads(text)
        if d.get("format") != FORMAT_NAME:
            raise ValueError("not a CarMask model file")
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"made by a newer CarMask (format {d['format_version']}); update the app"
            )
        d["arch"] = UNetConfig.from_dict(d["arch"])
        for key in ("input_size", "mean", "std"):
            d[key] = tuple(d[key])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def label(self) -> str:
        h, w = self.input_size
        dice = self.metrics.get("val_dice")
        score = f", val Dice {dice:.4f}" if isinstance(dice, float) else ""
        return f"{self.name} ({self.arch.encoder} {self.arch.join}, {h}×{w}{score})"


def read_header(path) -> ModelHeader:
    """Read only the header (fast: the weights are not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "model file not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            path, f"not a readable model file (truncated or corrupt): {exc}"
        ) from exc
    if _HEADER_KEY not in meta:
        raise ModelFileError(path, "not a CarMask model file (no CarMask header)")
    try:
        return ModelHeader.from_json(meta[_HEADER_KEY])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(path, f"damaged model header: {exc}") from exc


def list_models(folder) -> tuple[list[tuple[Path, ModelHeader]], list[ModelFileError]]:
    """The model library: every model file in a folder, and the files that could not be read."""
    found, errors = [], []
    folder = Path(folder)
    if not folder.is_dir():
        return found, errors
    for p in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
        try:
            found.append((p, read_header(p)))
        except ModelFileError as exc:
            errors.append(exc)
    return found, errors
