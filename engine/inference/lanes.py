"""The batch's predictors: one per lane, each lane a photo segmented at once
(`engine.inference.pipeline.Lanes`), built from a `PredictConfig` by this installation's edition
(`engine.inference.editions`: PyTorch's `Predictor`, or the CPU edition's `LitePredictor`)."""

from __future__ import annotations

from collections.abc import Callable

from engine.inference.config import PredictConfig
from engine.inference.editions import (
    cpu_threads,
    has_torch,
    predictor_from_config,
    share_threads,
)
from engine.inference.matting import MattePredictor

__all__ = ["make_lanes", "share_threads"]


def make_lanes(
    config: PredictConfig, photos: int = 2
) -> tuple[list[MattePredictor], Callable[[], None]]:
    """The batch's predictors, one per lane, and a function that gives the threads back.
    On a CPU with 2 threads or more: two lanes, each on half the threads (1.4x the photos per
    second of one photo at a time: benchmarks/pipeline.py); `config.lanes` sets the number; on
    CUDA one; never more lanes than `photos`."""
    lanes = config.lanes
    if not lanes:
        lanes = 2 if _on_cpu(config) and cpu_threads() >= 2 else 1
    lanes = max(1, min(lanes, photos))  # a lane per photo at most
    threads, restore = share_threads(lanes)
    try:
        return [predictor_from_config(config, threads) for _ in range(lanes)], restore
    except BaseException:
        restore()
        raise


def _on_cpu(config: PredictConfig) -> bool:
    if not has_torch():
        return True
    from engine.inference.devices import resolve_device

    return resolve_device(config.device).type == "cpu"
