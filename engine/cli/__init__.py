"""`carmask`: the headless command line, thin over the engine.

carmask predict INPUTS... --out DIR [--model FILE]... [--ensemble] [--device auto|cpu|cuda]
                [--backend auto|torch|openvino] [--tta] [--precision auto|fp32|bf16]
                [--vote majority|mean]
                [--format png|mask|jpg]... [--background COLOUR] [--max-megapixels N]
carmask evaluate --images DIR --masks DIR [--model FILE]... [--ensemble]
carmask models list [--dir DIR]
carmask models resave OLD NEW
carmask train --data DIR --out FILE [--preset NAME] ...
carmask finetune --model FILE --data DIR --out FILE [--freeze-encoder] ...
carmask refine --model FILE --data DIR --out FILE [--helper FILE]... [--refiner-from FILE] ...

Commands live one per module (`predict`, `evaluate`, `models`, `train`), their options in `parser`.
"""

from __future__ import annotations

import logging
import sys

from engine.batch.photo import finish_before_stopping as _finish_before_stopping
from engine.cli.common import _parse_size
from engine.cli.parser import build_parser
from engine.inference.backends import BackendError
from engine.inference.backends.ir_files import IRFileError
from engine.inference.devices import DeviceError
from engine.inference.editions import NeedsFullEdition
from engine.modelfiles.header import ModelFileError
from engine.training.config import TRAIN_CHILD_FLAG

__all__ = ["_finish_before_stopping", "_parse_size", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [TRAIN_CHILD_FLAG]:  # the wizard's training child, from a frozen bundle
        from engine.train import main as train_main

        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (
        BackendError,
        DeviceError,
        IRFileError,
        ModelFileError,
        NeedsFullEdition,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
