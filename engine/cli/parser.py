"""`carmask`'s argument parser: every command and option."""

from __future__ import annotations

import argparse

from engine import __version__
from engine.batch.export import EXPORT_FORMATS
from engine.cli.common import (
    _add_amp_option,
    _megapixels,
    _model_args,
    _parse_colour,
    _parse_size,
)
from engine.cli.evaluate import cmd_evaluate
from engine.cli.models import cmd_models_list, cmd_models_resave
from engine.cli.predict import cmd_predict
from engine.cli.train import cmd_refine, cmd_train
from engine.cli.watch import add_watch_parser
from engine.cluster.options import add_cluster_args
from engine.inference.devices import DEVICE_CHOICES
from engine.io import (
    DEFAULT_MAX_MEGAPIXELS,
)
from engine.listing.choices import MAX_FRAME_MEGAPIXELS, SHADOWS, SIZE_PRESETS, parse_size
from engine.listing.naming import check_template
from engine.training.config import OPTIMIZERS, PRESETS, SCHEDULES


def _fraction(low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {value:g}")
        return value

    return parse


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _template(text: str) -> str:
    try:
        return check_template(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _ListingOption(argparse.Action):
    """Stores the option's value (`nargs=0`: its `const`, as a flag) and notes it as given in
    `listing_options`: a listing option without --format listing is refused, not ignored
    (`engine.cli.predict`)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        given = getattr(namespace, "listing_options", None) or []
        namespace.listing_options = [*given, option_string]


def _listing_args(p: argparse.ArgumentParser) -> None:
    p.set_defaults(listing_options=[])
    g = p.add_argument_group("listing frames (--format listing)")
    listing = _ListingOption
    g.add_argument(
        "--size",
        action=listing,
        type=_size,
        default="1600x1200",
        help=f"frame WIDTHxHEIGHT (default 1600x1200; presets: {', '.join(SIZE_PRESETS)}; "
        f"at most {MAX_FRAME_MEGAPIXELS:g} megapixels)",
    )
    g.add_argument(
        "--backdrop",
        action=listing,
        type=_parse_colour,
        default="#FFFFFF",
        help="backdrop colour (top of a gradient with --backdrop-bottom)",
    )
    g.add_argument(
        "--backdrop-bottom", action=listing, type=_parse_colour, help="gradient: its bottom colour"
    )
    g.add_argument(
        "--backdrop-image",
        action=listing,
        help="the studio's own backdrop image, scaled to cover the frame",
    )
    g.add_argument(
        "--shadow", action=listing, choices=SHADOWS, default="contact", help="default: contact"
    )
    g.add_argument(
        "--shadow-strength",
        action=listing,
        type=_fraction(0, 1),
        default=0.5,
        help="0 to 1 (default 0.5)",
    )
    g.add_argument(
        "--margin",
        action=listing,
        type=_fraction(0, 0.4),
        default=0.06,
        help="room around the car, as a share of the frame (default 0.06)",
    )
    g.add_argument(
        "--spin",
        action=listing,
        nargs=0,
        const=True,
        default=False,
        help="also write each car's 360° spin page (<car>_spin.html beside its frames; "
        "opens in any browser, no network needed)",
    )
    g.add_argument(
        "--name-template",
        action=listing,
        type=_template,
        help="listing file names, e.g. '{stock}_{angle:02d}' (fields: {car}, {angle}, {stem}, "
        "{stock}); default: <photo>_listing.jpg",
    )
    g.add_argument(
        "--stock-numbers",
        action=listing,
        metavar="CSV",
        help="car,stock lines: the {stock} (a stock number or VIN) of each car, for "
        "--name-template",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carmask", description="Car photo background removal")
    parser.add_argument("--version", action="version", version=f"carmask {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="cut out the cars in photos")
    p.add_argument("inputs", nargs="+", help="photos and folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--lanes",
        type=int,
        default=0,
        metavar="N",
        help="photos segmented at once, each on its share of the CPU threads (default: 2 on "
        "a CPU, 1 on CUDA)",
    )

    p.add_argument(
        "--format",
        action="append",
        choices=(*EXPORT_FORMATS, "listing"),
        help="png: transparent cutout (default), mask: mask PNG, jpg: on a colour, listing: "
        "framed like the car's other angles on a backdrop with a shadow (JPEG); repeatable",
    )
    p.add_argument(
        "--background",
        type=_parse_colour,
        default="#FFFFFF",
        help="colour for --format jpg: #RRGGBB, #RGB or a name such as white",
    )
    p.add_argument(
        "--max-megapixels",
        type=_megapixels,
        default=DEFAULT_MAX_MEGAPIXELS,
        help=f"refuse larger photos (default {DEFAULT_MAX_MEGAPIXELS:g}; about 55 MB of memory "
        "per megapixel)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON-lines report: one object per photo (file, status, confidence 0-1, "
        "reasons to look at it, seconds)",
    )
    p.add_argument(
        "--keep-all-objects",
        action="store_true",
        help="keep every object the model finds; by default only the main car (the largest, "
        "most central one) is kept with its attached parts, other blobs dropped, holes filled",
    )
    _listing_args(p)
    add_cluster_args(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _model_args(p)
    p.set_defaults(func=cmd_predict)

    add_watch_parser(sub)

    p = sub.add_parser("evaluate", help="mean Dice against ground-truth masks")
    p.add_argument("--images", required=True)
    p.add_argument("--masks", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    _model_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="the model library")
    msub = p.add_subparsers(dest="models_command", required=True)
    pl = msub.add_parser("list", help="list model files")
    pl.add_argument("--dir", help="folder to list (default: shipped models and the user library)")
    pl.set_defaults(func=cmd_models_list)
    pr = msub.add_parser(
        "resave", help="re-save a model file made by an older CarMask, with a full checksum"
    )
    pr.add_argument("file", help="the old model file (kept as it is)")
    pr.add_argument("new_file", help="the file to write")
    pr.set_defaults(func=cmd_models_resave)

    for name in ("train", "finetune"):
        p = sub.add_parser(name, help=f"{name} a model on photos with masks")
        p.add_argument("--data", required=True, help="folder of photos with masks")
        p.add_argument("--out", required=True, help="model file to write (best epoch)")
        p.add_argument("--val-data", help="separate validation folder (else split by car)")
        p.add_argument("--name")
        p.add_argument("--size", type=_parse_size, help="training input size HxW, e.g. 512x768")
        p.add_argument(
            "--crop",
            type=_parse_size,
            help="train on random HxW crops at the --size scale (faster steps; whole-photo val)",
        )
        p.add_argument("--epochs", type=int, default=10)
        p.add_argument("--batch-size", type=int, default=0)
        p.add_argument("--lr", type=float, default=0.01)
        p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
        p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
        p.add_argument("--workers", type=int, default=0)
        p.add_argument("--max-steps", type=int, default=0)
        p.add_argument("--cache-dir")
        p.add_argument("--cancel-file", help="stop cleanly when this file appears")
        p.add_argument("--events", action="store_true", help="JSON-lines events on stdout")
        p.add_argument(
            "--compose",
            action="store_true",
            help="paste the --data cars into procedural studios (and --scenes) as they train; "
            "the last epoch's model is kept",
        )
        p.add_argument("--scenes", help="street scenes folder (images/, masks/) to paste into")
        p.add_argument(
            "--mix-photos",
            action="append",
            metavar="FOLDER",
            help="real photos with masks mixed in as they are (repeatable)",
        )
        _add_amp_option(p)
        if name == "train":
            p.add_argument("--preset", choices=sorted(PRESETS), default="cpu-lite0-512x768")
            p.add_argument(
                "--no-pretrained",
                action="store_true",
                help="start from random weights instead of ImageNet",
            )
            p.set_defaults(func=cmd_train)
        else:
            p.add_argument("--model", required=True, help="model file to start from (kept)")
            p.add_argument("--freeze-encoder", action="store_true")
            p.set_defaults(func=lambda a: cmd_train(a, finetune=True))

    p = sub.add_parser("refine", help="train a model's full-resolution edge refiner")
    p.add_argument("--model", required=True, help="model file to refine (kept)")
    p.add_argument("--data", required=True, help="folder of photos with masks")
    p.add_argument("--out", required=True, help="model file to write (the model + its refiner)")
    p.add_argument("--val-data", help="separate validation folder (else split by car)")
    p.add_argument("--name")
    p.add_argument(
        "--helper",
        action="append",
        default=[],
        metavar="FILE",
        help="other model whose edges (picked at random per photo) add variety to training",
    )
    p.add_argument(
        "--refiner-from",
        metavar="FILE",
        help="start from this model file's refiner (with --steps 0: copy it as it is)",
    )
    p.add_argument("--width", type=int, default=12, help="channels of the refiner's layers")
    p.add_argument("--tiles-per-photo", type=int, default=40)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=96)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-val-photos", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    _add_amp_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_refine)
    return parser
