"""Beyond one machine: `carmask predict --ray`, the batch on a Ray cluster (Ray Data).

Ray is an optional extra (``pip install carmask-studio[cluster]``): it is imported only when
``--ray`` is used, inside this package, so ``carmask --help``, the plain CLI and the app work
without it.

- `stages`: what runs on the nodes (read and decode, segment in an actor, export), Ray-free;
- `run`: the driver (`cmd_predict_ray`): intake, names, manifest, the Ray Data pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.inference.config import PredictConfig


def cmd_predict_ray(args, config: Callable[[], PredictConfig]) -> int:
    """`args`: the batch's other options (inputs, outputs, the cluster's); `config()`: what the
    predictors run with (`engine.cli.common.predict_config`), asked for once the job's own
    checks have passed (a missing model is said after a missing Ray, as it always was)."""
    from engine.cluster.run import cmd_predict_ray as run

    return run(args, config)


__all__ = ["cmd_predict_ray"]
