"""The training child process: `python -m engine.train --config run.json` (the GUI's wizard,
and the bundle's `--engine-train`) runs `engine.training.trainer.Trainer` with the JSON file's
`TrainConfig` fields and streams its events on stdout, one JSON object per line. Exit status:
0 done, 3 cancelled, 1 failed (an "error" event says why), 2 in the CPU edition (no PyTorch:
said on stderr)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.inference.editions import NeedsFullEdition, require_torch
from engine.training.events import JsonLinesSink, make_event


def main(argv: list[str] | None = None) -> int:
    """Child-process entry: `python -m engine.train --config run.json` → JSON events on stdout."""
    try:
        require_torch("training")
    except NeedsFullEdition as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m engine.train")
    parser.add_argument("--config", required=True, help="JSON file with TrainConfig fields")
    args = parser.parse_args(argv)
    out, errors = JsonLinesSink(sys.stdout), []

    def sink(event) -> None:
        if event["event"] == "error":
            errors.append(event)
        out(event)

    try:
        from engine.training.config import TrainConfig
        from engine.training.trainer import Trainer

        cfg = TrainConfig(**json.loads(Path(args.config).read_text()))
        result = Trainer(cfg, sink).run()
    except Exception as exc:  # bad config, no usable data, unreadable init model: say why
        if not errors:  # run() reports failures inside its loop itself
            sink(make_event("error", message=f"{type(exc).__name__}: {exc}"))
        return 1
    return 0 if not result.cancelled else 3


if __name__ == "__main__":
    sys.exit(main())
