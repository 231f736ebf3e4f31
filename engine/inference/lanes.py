"""The batch's predictors: one per lane, each lane a photo segmented at once
(`engine.inference.pipeline.Lanes`), built from a `PredictConfig`."""

from __future__ import annotations

from collections.abc import Callable

from engine.inference.config import PredictConfig
from engine.inference.predict import Predictor


def make_lanes(
    config: PredictConfig, photos: int = 2
) -> tuple[list[Predictor], Callable[[], None]]:
    """The batch's predictors, one per lane, and a function that gives torch its threads back.
    On a CPU with 2 threads or more: two lanes, each on half the threads (1.4x the photos per
    second of one photo at a time: benchmarks/pipeline.py); `config.lanes` sets the number; on
    CUDA one; never more lanes than `photos`."""
    import torch

    from engine.inference.devices import resolve_device

    lanes = config.lanes
    if not lanes:
        cpu = resolve_device(config.device).type == "cpu"
        lanes = 2 if cpu and torch.get_num_threads() >= 2 else 1
    lanes = max(1, min(lanes, photos))  # a lane per photo at most
    restore = share_threads(lanes)
    try:
        return [Predictor.from_config(config) for _ in range(lanes)], restore
    except BaseException:
        restore()
        raise


def share_threads(lanes: int) -> Callable[[], None]:
    """Give each of `lanes` lanes its share of torch's threads; the function returned gives
    them all back (after the batch)."""
    import torch

    threads = torch.get_num_threads()
    if lanes > 1:
        torch.set_num_threads(max(1, threads // lanes))
    return lambda: torch.set_num_threads(threads)
