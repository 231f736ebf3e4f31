"""Beyond one machine: `carmask predict --ray`, the batch on a Ray cluster (Ray Data).

Ray is an optional extra (``pip install carmask-studio[cluster]``): it is imported only when
``--ray`` is used, inside this package, so ``carmask --help``, the plain CLI and the app work
without it.

- `stages`: what runs on the nodes (read and decode, segment in an actor, export), Ray-free;
- `run`: the driver (`cmd_predict_ray`): intake, names, manifest, the Ray Data pipeline.
"""

from __future__ import annotations


def cmd_predict_ray(args) -> int:
    from engine.cluster.run import cmd_predict_ray as run

    return run(args)


__all__ = ["cmd_predict_ray"]
