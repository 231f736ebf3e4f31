"""`carmask predict`'s cluster options (`--ray`, `--workers`, `--cpus-per-worker`); no Ray here."""

from __future__ import annotations

import argparse


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


def add_cluster_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("on a Ray cluster (pip install carmask-studio[cluster])")
    g.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run the batch with Ray Data: alone, a Ray instance on this machine; with an "
        "address, that cluster (ray://HOST:10001, or auto for the one this node is in). Photos: "
        "folders every node sees, or s3:// / gs:// URIs; --out: a folder every node sees. A "
        "rerun redoes only what is missing (.carmask-outputs.jsonl in --out)",
    )
    g.add_argument(
        "--workers",
        type=_positive(int),
        help="segmenting actors (default: one per GPU of the cluster; on CPUs only, one per node)",
    )
    g.add_argument(
        "--photos-per-task",
        type=_positive(int),
        default=4,
        help="photos each read, segment and export task takes (default 4: Ray's cost per task "
        "is shared; a rerun after a crash redoes at most the tasks in flight)",
    )
    g.add_argument(
        "--cpus-per-worker",
        type=_positive(float),
        help="CPUs each actor reserves (default: 1 beside a GPU; on CPUs only, its node's CPUs "
        "but one, shared among the workers)",
    )
