"""Model files: safetensors weights + a JSON header, one file per trained model.

safetensors cannot execute code when loaded (unlike pickle). The header (`engine.modelfiles.header`,
readable without torch) holds what is needed to rebuild and feed the model and what a person wants
to know about it. The header holds a SHA-256 of the weights (`sha256`) and one of itself with that
(`digest`), so a file whose tensors or header were altered after saving is refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine.io import atomic_write_bytes
from engine.modelfiles.header import (
    _HEADER_KEY,
    ModelFileError,
    ModelHeader,
    read_header,
)
from engine.models.unet import UNet


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
    data = st_save(tensors, metadata={_HEADER_KEY: header.sealed().to_json()})
    return atomic_write_bytes(path, data)


def load_model(
    path, device: str | torch.device = "cpu", legacy: bool = False
) -> tuple[UNet, ModelHeader]:
    """Rebuild the model described by the file and load its weights (float32, eval mode).

    ``legacy`` also reads files of format 1 (no header checksum), for `resave_model` only."""
    path = Path(path)
    header = read_header(path, legacy=legacy)
    try:
        tensors = st_load(path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"truncated or corrupt weights: {exc}") from exc
    if not header.sha256 and not legacy:
        raise ModelFileError(path, "the weights have no checksum")
    if header.sha256 and _weights_digest(tensors) != header.sha256:
        raise ModelFileError(path, "weights do not match their checksum (file altered or damaged)")
    try:
        model = UNet(header.arch, pretrained=None)
    except (KeyError, ValueError, RuntimeError) as exc:
        reason = f"field 'arch' describes no network CarMask can build: {exc}"
        raise ModelFileError(path, reason) from exc
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


def resave_model(src, dst) -> tuple[Path, ModelHeader]:
    """Re-save a model file made by an older CarMask (or an intact current one) in today's
    format, with a checksum over its header and weights. The source file is kept."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        raise ModelFileError(dst, "the new file must differ from the old one (the old one is kept)")
    model, header = load_model(src, legacy=True)
    dtype = getattr(torch, header.dtype)
    header.digest = ""
    return save_model(dst, model, header, dtype=dtype), header
