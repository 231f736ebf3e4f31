"""What the `carmask` commands share: model and device options, colour and size parsing."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from engine.inference.config import Backend, Device, Precision, PredictConfig, Vote
from engine.modelfiles.header import ModelFileError
from engine.modelfiles.library import chosen_model_paths


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FILE",
        help="model file (repeat for an ensemble); default: the shipped default model",
    )
    p.add_argument("--ensemble", action="store_true", help="use the shipped ensemble")
    p.add_argument("--device", choices=Device.values(), default="auto")
    p.add_argument(
        "--backend",
        choices=Backend.values(),
        default="auto",
        help="what runs the networks: auto (default): OpenVINO on the CPU (3x PyTorch's speed "
        "in float32), PyTorch on CUDA or where OpenVINO fails to load (the reason is shown)",
    )
    p.add_argument("--tta", action="store_true", help="also predict the mirrored photo")
    p.add_argument(
        "--precision",
        choices=Precision.values(),
        default="auto",
        help="auto (default): fp16 on CUDA, bf16 on a CPU that has it natively, else fp32",
    )
    p.add_argument(
        "--vote",
        choices=Vote.values(),
        default="majority",
        help="how an ensemble combines its models (default: majority)",
    )


def predict_config(args: argparse.Namespace) -> PredictConfig:
    """The one place a command's options become what prediction runs with (`_model_args`, and
    predict's --keep-all-objects and --lanes where the command has them)."""
    return PredictConfig(
        models=tuple(chosen_model_paths(args.model, args.ensemble)),
        device=args.device,
        backend=args.backend,
        precision=args.precision,
        tta=args.tta,
        vote=args.vote,
        keep_all_objects=getattr(args, "keep_all_objects", False),
        lanes=getattr(args, "lanes", 0) or 0,
    )


def _parse_colour(text: str) -> tuple[int, int, int]:
    """#RRGGBB, #RGB or a CSS colour name ("white", "red") as (r, g, b)."""
    from PIL import ImageColor

    spec = text.strip()
    if spec and all(c in "0123456789abcdefABCDEF" for c in spec) and len(spec) in (3, 6):
        spec = "#" + spec  # "FFFFFF" as the old option took it
    try:
        r, g, b = ImageColor.getrgb(spec)[:3]
        return r, g, b
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a colour: give #RRGGBB, #RGB or a name such as white or red"
        ) from None


def _megapixels(text: str) -> float:
    """--max-megapixels: a finite number above 0 (nan or inf would switch the guard off)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of megapixels above 0, not {text!r}")
    return value


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 512x768, not {text!r}") from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError("size must be at least 32x32")
    return h, w


def _add_amp_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-amp",
        dest="amp",
        action="store_false",
        help="train in float32 (default: float16 on CUDA, bfloat16 on a CPU that has it)",
    )


def _model_out_problem(out: str) -> str | None:
    """Why `--out` must not be written as a model file (None when it may): the file to write is
    a `.safetensors` file, and an existing one must be a CarMask model (it is replaced)."""
    from engine.modelfiles.header import MODEL_SUFFIX, read_header

    path = Path(out)
    if path.suffix.lower() != MODEL_SUFFIX:
        return f"--out {out}: a model file ends in {MODEL_SUFFIX}"
    if path.exists():
        try:
            read_header(path, legacy=True)
        except ModelFileError:
            return f"--out {out}: is a file but not a CarMask model; it is left as it is"
    return None
