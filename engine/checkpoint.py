"""Model files: safetensors weights + a JSON header, one file per trained model.

safetensors cannot execute code when loaded (unlike pickle). The header holds what is needed to
rebuild and feed the model (architecture, input size, threshold, normalisation) and what a person
wants to know about it (training data, validation metrics, date, version). A SHA-256 of the
weights in the header catches files whose tensors were altered after saving.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine import __version__
from engine.io import atomic_write_bytes
from engine.models.unet import UNet, UNetConfig

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


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_model(path, model: UNet, header: ModelHeader, dtype: torch.dtype = torch.float16) -> Path:
    """Write the model atomically; floating tensors are stored as `dtype` (fp16: small files)."""
    tensors = {}
    for key, t in model.state_dict().items():
        if key in ("mean", "std"):
            continue
        t = t.detach().to("cpu")
        tensors[key] = (t.to(dtype) if t.is_floating_point() else t).contiguous()
    header.arch = model.config
    header.mean = tuple(float(v) for v in model.mean.flatten())
    header.std = tuple(float(v) for v in model.std.flatten())
    header.dtype = str(dtype).removeprefix("torch.")
    header.created = header.created or _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"
    )
    header.sha256 = _weights_digest(tensors)
    data = st_save(tensors, metadata={_HEADER_KEY: header.to_json()})
    return atomic_write_bytes(path, data)


def read_header(path) -> ModelHeader:
    """Read only the header (fast: the weights are not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "model file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
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


def load_model(path, device: str | torch.device = "cpu") -> tuple[UNet, ModelHeader]:
    """Rebuild the model described by the file and load its weights (float32, eval mode)."""
    path = Path(path)
    header = read_header(path)
    try:
        tensors = st_load(path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"truncated or corrupt weights: {exc}") from exc
    if header.sha256 and _weights_digest(tensors) != header.sha256:
        raise ModelFileError(path, "weights do not match their checksum (file altered or damaged)")
    model = UNet(header.arch, pretrained=None)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ModelFileError(path, f"weights do not fit the architecture: {exc}") from exc
    missing = [k for k in missing if k not in ("mean", "std")]
    if missing or unexpected:
        raise ModelFileError(
            path,
            f"weights do not fit the architecture (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]})",
        )
    model.mean.copy_(torch.tensor(header.mean).view(1, 3, 1, 1))
    model.std.copy_(torch.tensor(header.std).view(1, 3, 1, 1))
    return model.to(device).eval(), header


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
