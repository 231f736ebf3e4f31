"""Choosing and loading the backend for a Predictor's models (`engine.inference.backends`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import torch

from engine.inference.backends import BACKEND_CHOICES, BACKEND_NAMES, BackendError

if TYPE_CHECKING:
    from engine.inference.predict import LoadedModel

log = logging.getLogger(__name__)
# told (model name, its place, how many models) before a model is converted (seconds, once per
# model file): the app says so rather than sitting at "0 %" (`preparing`)
_on_convert: ContextVar[Callable[[str, int, int], None] | None] = ContextVar(
    "on_convert", default=None
)


@contextmanager
def preparing(callback: Callable[[str, int, int], None]) -> Iterator[None]:
    """Within this block (on this thread), `callback(name, n, count)` is called before the n-th
    of `count` models is converted for its backend (not when its converted copy is cached)."""
    token = _on_convert.set(callback)
    try:
        yield
    finally:
        _on_convert.reset(token)


def attach_backend(
    models: Sequence[LoadedModel], device: torch.device, dtype: torch.dtype, backend: str
) -> tuple[str, str]:
    """Give each model its backend runner (`LoadedModel.runner`); returns (backend used, note).

    The note is empty unless `auto` had to fall back to PyTorch: then it says why. A backend
    asked for by name that cannot run raises `BackendError` instead."""
    if backend not in BACKEND_CHOICES:
        raise BackendError(f"unknown backend '{backend}'; use one of {', '.join(BACKEND_CHOICES)}")
    if backend == "torch" or (backend == "auto" and device.type != "cpu"):
        return "torch", ""
    if device.type != "cpu":
        raise BackendError(
            f"the {BACKEND_NAMES[backend]} backend runs on the CPU; on {device.type.upper()} "
            "use --backend auto or torch"
        )
    if backend == "auto" and any(lm.path is None for lm in models):
        return "torch", ""  # a model in memory only (being trained): nothing to convert
    try:
        runners = [_openvino_runner(lm, dtype, (n, len(models))) for n, lm in enumerate(models, 1)]
    except Exception as exc:  # not installed, a converter or CPU plugin error, a full disk...
        reason = _short(exc)
        if backend == "openvino":
            raise BackendError(f"OpenVINO cannot run the model: {reason}") from exc
        log.warning("OpenVINO could not load the model (%s); running on PyTorch", reason)
        return "torch", f"OpenVINO failed: {reason}"
    for lm, runner in zip(models, runners, strict=True):
        lm.runner = runner
    return "openvino", ""


def _openvino_runner(lm: LoadedModel, dtype: torch.dtype, place: tuple[int, int] = (1, 1)):
    from engine.inference.backends.cache import cached_entry, discard
    from engine.inference.backends.openvino_model import (
        OpenVinoModel,
        cache_key,
        convert,
        streams_that_fit,
    )

    if lm.path is None:
        raise BackendError("the model has no file to convert")
    if not lm.header.digest:
        raise BackendError(f"{lm.path.name} has no digest to key its converted copy by")

    def build(folder):
        log.info("converting %s for OpenVINO (once per model file)", lm.path)
        if (told := _on_convert.get()) is not None:
            told(lm.header.name, *place)
        convert(lm.model, lm.header.input_size, folder)

    entry = cached_entry(lm.path, lm.header.name, lm.header.digest, cache_key(), build)
    threads = torch.get_num_threads()
    streams = streams_that_fit(threads)  # the lanes' inferences run at once, a stream each
    refiner = lm.model.refiner
    warm_up = (2 * lm.model.stride, refiner.tile + 2 * refiner.margin if refiner else 0)
    try:
        return OpenVinoModel(entry, dtype, threads, streams, warm_up)
    except Exception:  # a cache entry OpenVINO cannot read or run: build it again, once
        discard(entry)
        entry = cached_entry(lm.path, lm.header.name, lm.header.digest, cache_key(), build)
        return OpenVinoModel(entry, dtype, threads, streams, warm_up)


def _short(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"cannot import it ({exc}); pip install openvino"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
