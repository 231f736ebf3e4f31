"""A model's OpenVINO runner: converted once per model file (cached), then compiled."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch

from engine.inference.backends.registry import BackendError, on_convert

if TYPE_CHECKING:
    from engine.inference.backends.openvino_model import OpenVinoModel
    from engine.inference.loaded import LoadedModel

log = logging.getLogger(__name__)


def load_runner(
    lm: LoadedModel, dtype: torch.dtype, place: tuple[int, int] = (1, 1)
) -> OpenVinoModel:
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
    path = lm.path

    def build(folder):
        log.info("converting %s for OpenVINO (once per model file)", path)
        if (told := on_convert.get()) is not None:
            told(lm.header.name, *place)
        convert(lm.model, lm.header.input_size, folder)

    entry = cached_entry(path, lm.header.name, lm.header.digest, cache_key(), build)
    threads = torch.get_num_threads()
    streams = streams_that_fit(threads)  # the lanes' inferences run at once, a stream each
    refiner = lm.model.refiner
    warm_up = (2 * lm.model.stride, refiner.tile + 2 * refiner.margin if refiner else 0)
    try:
        return OpenVinoModel(entry, dtype, threads, streams, warm_up)
    except Exception:  # a cache entry OpenVINO cannot read or run: build it again, once
        discard(entry)
        entry = cached_entry(path, lm.header.name, lm.header.digest, cache_key(), build)
        return OpenVinoModel(entry, dtype, threads, streams, warm_up)
