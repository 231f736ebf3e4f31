"""Choosing and loading the backend for a Predictor's models (`engine.inference.backends`).

Every backend comes from the registry (`engine.inference.backends.registry`): `auto` tries the
ones registered for it on the device, in order, and falls back to PyTorch with the reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.inference.backends.registry import (
    BackendError,
    BackendSpec,
    auto_backends,
    backend_spec,
    preparing,
)

if TYPE_CHECKING:
    import torch

    from engine.inference.loaded import LoadedModel

__all__ = ["attach_backend", "preparing"]
log = logging.getLogger(__name__)
FALLBACK = "torch"


def attach_backend(
    models: Sequence[LoadedModel], device: torch.device, dtype: torch.dtype, backend: str
) -> tuple[str, str]:
    """Give each model its backend runner (`LoadedModel.runner`); returns (backend used, note).

    The note is empty unless `auto` had to fall back to PyTorch: then it says why. A backend
    asked for by name that cannot run raises `BackendError` instead."""
    name = str(backend)
    if name != "auto":
        spec = backend_spec(name)
        if device.type not in spec.devices:
            raise BackendError(
                f"the {spec.label} backend runs on {spec.where()}; on {device.type.upper()} "
                f"use --backend auto or {FALLBACK}"
            )
        try:
            _attach(spec, models, dtype)
        except Exception as exc:  # not installed, a converter or plugin error, a full disk...
            if spec.name == FALLBACK:
                raise
            reason = _short(spec, exc)
            raise BackendError(f"{spec.label} cannot run the model: {reason}") from exc
        return spec.name, ""
    note = ""
    for spec in auto_backends(device.type):
        if spec.needs_file and any(lm.path is None for lm in models):
            continue  # a model in memory only (being trained): nothing to convert
        try:
            _attach(spec, models, dtype)
            return spec.name, ""
        except Exception as exc:
            reason = _short(spec, exc)
            log.warning("%s could not load the model (%s); running on PyTorch", spec.label, reason)
            note = f"{spec.label} failed: {reason}"
            break
    _attach(backend_spec(FALLBACK), models, dtype)
    return FALLBACK, note


def _attach(spec: BackendSpec, models: Sequence[LoadedModel], dtype: torch.dtype) -> None:
    """Every model's runner, or none of them changed (an error on the second model)."""
    runners = [spec.load(lm, dtype, (n, len(models))) for n, lm in enumerate(models, 1)]
    for lm, runner in zip(models, runners, strict=True):
        lm.runner = runner


def _short(spec: BackendSpec, exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        install = f"; pip install {spec.package}" if spec.package else ""
        return f"cannot import it ({exc}){install}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
