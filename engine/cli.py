"""`carmask`: the headless command line, thin over the engine.

carmask predict INPUTS... --out DIR [--model FILE]... [--ensemble] [--device auto|cpu|cuda]
                [--tta] [--precision auto|fp32|bf16] [--vote majority|mean]
                [--format png|mask|jpg]...
carmask evaluate --images DIR --masks DIR [--model FILE]... [--ensemble]
carmask models list [--dir DIR]
carmask train --data DIR --out FILE [--preset NAME] ...
carmask finetune --model FILE --data DIR --out FILE [--freeze-encoder] ...
carmask refine --model FILE --data DIR --out FILE [--helper FILE]... [--refiner-from FILE] ...
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine import __version__
from engine.devices import DEVICE_CHOICES, PRECISION_CHOICES, DeviceError
from engine.ensemble import VOTE_METHODS, combine
from engine.export import EXPORT_FORMATS, ExportOptions, export_photo
from engine.intake import find_photos
from engine.io import (
    DEFAULT_MAX_MEGAPIXELS,
    ImageReadError,
    OutputWriteError,
    find_images,
    read_mask,
    read_photo,
    read_rgb,
)
from engine.library import chosen_model_paths, library_dirs, list_library
from engine.memory import release_freed_memory
from engine.metrics import dice
from engine.model_header import ModelFileError
from engine.outputs import OutputPlan
from engine.train_config import OPTIMIZERS, PRESETS, SCHEDULES, TRAIN_CHILD_FLAG

log = logging.getLogger("carmask")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="FILE",
        help="model file (repeat for an ensemble); default: the shipped default model",
    )
    p.add_argument("--ensemble", action="store_true", help="use the shipped ensemble")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--tta", action="store_true", help="also predict the mirrored photo")
    p.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="auto (default): fp16 on CUDA, bf16 on a CPU that has it natively, else fp32",
    )
    p.add_argument(
        "--vote",
        choices=VOTE_METHODS,
        default="majority",
        help="how an ensemble combines its models (default: majority)",
    )


def _predictor(args):
    from engine.predict import Predictor

    return Predictor(
        chosen_model_paths(args.model, args.ensemble),
        device=args.device,
        tta=args.tta,
        vote=args.vote,
        precision=args.precision,
    )


def _say(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


def cmd_predict(args) -> int:
    intake = find_photos(args.inputs)
    options = ExportOptions(formats=tuple(args.format or ["png"]), background=args.background)
    plan = OutputPlan(options.formats, intake.photos)
    for f in intake.photos:
        plan.assign(f, args.out)  # every name chosen before anything is written
    predictor = _predictor(args)
    _say(f"device: {predictor.device_label}; model: {predictor.label}")
    failed: list[tuple[Path, str]] = []
    notes: list[tuple[Path, str]] = []
    done, times = 0, []
    bar = tqdm(intake.photos, desc="photos", unit="photo", disable=args.quiet, file=sys.stderr)
    try:
        for path in bar:
            t0 = time.perf_counter()
            try:
                photo = read_photo(path, args.max_megapixels)
                mask = predictor.predict(photo.rgb)
                with _finish_before_stopping():  # a cutout never lacks the mask asked with it
                    export_photo(photo.rgb, mask, path, args.out, options, plan, photo.alpha)
            except (ImageReadError, OutputWriteError) as exc:
                failed.append((exc.path, exc.reason))
                _say(f"failed: {exc}")
                continue
            finally:
                release_freed_memory()  # a long batch's memory stays flat
            if photo.note:
                notes.append((path, photo.note))
            times.append(time.perf_counter() - t0)
            done += 1
    except KeyboardInterrupt:
        bar.close()
        left = len(intake.photos) - done - len(failed)
        _predict_summary(done, failed, notes, intake, times, predictor, f", not started: {left}")
        print("interrupted: the photos done so far are complete; run again to finish the rest")
        return 130
    _predict_summary(done, failed, notes, intake, times, predictor)
    return 1 if failed or not intake.photos else 0


def _predict_summary(done, failed, notes, intake, times, predictor, extra="") -> None:
    per = f", {np.median(times):.2f} s per photo (median)" if times else ""
    more = f", {intake.summary()}" if intake.summary() else ""
    print(
        f"done: {done}, failed: {len(failed)}{extra}{more}{per}; device: {predictor.device_label}"
    )
    for path, reason in failed:
        print(f"  failed: {path}: {reason}")
    for path, reason in intake.skipped:
        print(f"  skipped: {path}: {reason}")
    for path, note in notes:
        print(f"  note: {path}: {note}")


@contextlib.contextmanager
def _finish_before_stopping():
    """Hold Ctrl-C back while one photo's outputs are written, then stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda sig, frame: asked.append(sig))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if asked:
        raise KeyboardInterrupt


def _parse_colour(text: str) -> tuple[int, int, int]:
    """#RRGGBB, #RGB or a CSS colour name ("white", "red") as (r, g, b)."""
    from PIL import ImageColor

    spec = text.strip()
    if spec and all(c in "0123456789abcdefABCDEF" for c in spec) and len(spec) in (3, 6):
        spec = "#" + spec  # "FFFFFF" as the old option took it
    try:
        return ImageColor.getrgb(spec)[:3]  # type: ignore[return-value]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a colour: give #RRGGBB, #RGB or a name such as white or red"
        ) from None


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 512x768, not {text!r}") from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError("size must be at least 32x32")
    return h, w


def find_mask_for(image: Path, masks_dir: Path) -> Path | None:
    """`X.jpg` ↔ `X_mask.gif` / `X_mask.png` / `X.png` (and other image suffixes) in masks_dir."""
    for name in (f"{image.stem}_mask", image.stem):
        for ext in (".gif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg"):
            candidate = masks_dir / f"{name}{ext}"
            if candidate.is_file():
                return candidate
    return None


def cmd_evaluate(args) -> int:
    for flag, folder in (("--images", args.images), ("--masks", args.masks)):
        if not Path(folder).is_dir():
            print(f"error: {flag} {folder}: no such folder")
            return 2
    images, _ = find_images([args.images])
    masks_dir = Path(args.masks)
    from engine.predict import Predictor

    paths = chosen_model_paths(args.model, args.ensemble)
    members = [
        Predictor([p], device=args.device, tta=args.tta, precision=args.precision) for p in paths
    ]
    _say(f"device: {members[0].device_label}")
    scores: dict[str, list[float]] = {str(p): [] for p in paths}
    ens: list[float] = []
    problems = []
    for path in tqdm(images, desc="evaluate", unit="photo", disable=args.quiet, file=sys.stderr):
        mask_path = find_mask_for(path, masks_dir)
        if mask_path is None:
            problems.append((path, "no mask found"))
            continue
        try:
            rgb, truth = read_rgb(path), read_mask(mask_path)
        except ImageReadError as exc:
            problems.append((exc.path, exc.reason))
            continue
        if truth.shape != rgb.shape[:2]:
            (h, w), (mh, mw) = rgb.shape[:2], truth.shape
            problems.append((mask_path, f"mask is {mw}×{mh}, its photo {w}×{h}"))
            continue
        probs = []
        for p, m in zip(paths, members, strict=True):
            prob = m.probabilities(rgb)[0]
            probs.append(prob)
            scores[str(p)].append(dice(prob > m.models[0].header.threshold, truth))
        if len(paths) > 1:
            thresholds = [m.models[0].header.threshold for m in members]
            ens.append(dice(combine(probs, thresholds, args.vote), truth))
    if not any(scores.values()):
        print("no photo could be evaluated")
        for path, reason in problems:
            print(f"  {path}: {reason}")
        return 1
    for p, s in scores.items():
        print(f"{Path(p).name}: mean Dice {np.mean(s):.5f} over {len(s)} photos")
    if ens:
        print(f"ensemble ({args.vote} vote): mean Dice {np.mean(ens):.5f} over {len(ens)} photos")
    for path, reason in problems:
        print(f"  skipped: {path}: {reason}")
    return 0


def cmd_models_list(args) -> int:
    dirs = [Path(args.dir)] if args.dir else library_dirs()
    found, errors = list_library(dirs)
    for path, header in found:
        print(f"{path}\n    {header.label}; created {header.created}")
    for err in errors:
        print(f"unreadable: {err}")
    if not found:
        print("no model files found in " + ", ".join(str(d) for d in dirs))
    return 0


def cmd_models_resave(args) -> int:
    from engine.checkpoint import resave_model

    problem = _model_out_problem(args.new_file)
    if problem:
        print(f"error: {problem.replace('--out ', '')}")
        return 2
    path, header = resave_model(args.file, args.new_file)
    if not header.sha256:
        print(f"warning: {args.file} had no checksum of its weights: they are taken as they are")
    print(f"re-saved {header.label} as {path} (the old file is kept)")
    return 0


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
    from engine.model_header import MODEL_SUFFIX, read_header

    path = Path(out)
    if path.suffix.lower() != MODEL_SUFFIX:
        return f"--out {out}: a model file ends in {MODEL_SUFFIX}"
    if path.exists():
        try:
            read_header(path, legacy=True)
        except ModelFileError:
            return f"--out {out}: is a file but not a CarMask model; it is left as it is"
    return None


def cmd_train(args, finetune: bool = False) -> int:
    from engine.events import JsonLinesSink
    from engine.train import TrainConfig, Trainer

    problem = _model_out_problem(args.out)
    if problem:
        print(f"error: {problem}")
        return 2

    fields = dict(
        data=args.data,
        out=args.out,
        name=args.name or "",
        epochs=args.epochs,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        seed=args.seed,
        device=args.device,
        workers=args.workers,
        max_steps=args.max_steps,
        val_data=args.val_data or "",
        cache_dir=args.cache_dir or "",
        cancel_file=args.cancel_file or "",
        amp=args.amp,
    )
    if args.cancel_file:  # a file left by an earlier run must not cancel this one
        Path(args.cancel_file).unlink(missing_ok=True)
    if args.batch_size:
        fields["batch_size"] = args.batch_size
    if args.crop:
        fields["crop_size"] = args.crop
    if args.size:
        fields["input_size"] = args.size
        fields["size_from_base"] = False  # fine-tune: an explicit size beats the base model's
    compose = _compose_fields(args)
    if compose is None:
        return 2
    if compose:
        fields.update(compose=compose, keep_last=True)
    if finetune:
        fields.update(init_from=args.model, freeze_encoder=args.freeze_encoder, pretrained=None)
    else:
        fields.update(preset=args.preset, pretrained=None if args.no_pretrained else "imagenet")
        if not args.batch_size:
            fields["batch_size"] = PRESETS[args.preset].batch_size
    cfg = TrainConfig(**fields)
    if finetune and Path(args.out).resolve() == Path(args.model).resolve():
        print("error: --out must differ from --model (the original model is kept)")
        return 2
    sink = JsonLinesSink(sys.stdout) if args.events else _TqdmSink()
    result = Trainer(cfg, sink).run()
    print(
        f"{'cancelled' if result.cancelled else 'finished'}: best val Dice "
        f"{result.best_val_dice:.5f}; model: {result.model_path}"
    )
    return 0 if not result.cancelled else 3


def _compose_fields(args) -> dict | None:
    """`TrainConfig.compose` from --compose / --scenes / --mix-photos ({} without them; None,
    said why, when they cannot be used)."""
    if not (args.compose or args.scenes or args.mix_photos):
        return {}
    if not args.crop:
        print("error: scene composition trains on crops: give --crop HxW (e.g. 256x384)")
        return None
    from engine.pairs import find_pairs

    photos = []
    for folder in args.mix_photos or []:
        report = find_pairs(folder)
        for path, reason in report.problems:
            print(f"warning: {path}: {reason}")
        if not report.pairs:
            print(f"error: no photo/mask pairs in {folder}")
            return None
        photos += [p.to_dict() for p in report.pairs]
    if args.scenes and not (Path(args.scenes) / "images").is_dir():
        print(f"error: {args.scenes}: a scenes folder holds images/ (and masks/)")
        return None
    return {"scenes": args.scenes or "", "photos": photos, "cache_dir": args.cache_dir or ""}


def cmd_refine(args) -> int:
    from engine.refine_train import RefineConfig, refine_model

    problem = _model_out_problem(args.out)
    if problem:
        print(f"error: {problem}")
        return 2

    # the options are named as RefineConfig's fields; options not given keep its defaults
    names = {f.name for f in dataclasses.fields(RefineConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    cfg = RefineConfig(**given, helpers=args.helper)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int, info: dict) -> None:
        if args.quiet:
            return
        if stage not in bars:
            unit = "photo" if stage == "tiles" else "step"
            desc = "cutting edge tiles" if stage == "tiles" else "training the refiner"
            bars[stage] = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)
        bar = bars[stage]
        bar.update(done - bar.n)
        if done % 50 == 0 and info:
            bar.set_postfix(bce=f"{info['loss']:.4f}", unrefined=f"{info['coarse']:.4f}")
        if done == total:
            bar.close()

    path, header = refine_model(cfg, progress)
    r = header.training["refiner"]
    if r["problems"]:
        _say(f"{r['problems']} photo/mask pairs skipped (unreadable or mismatched)")
    m = header.metrics
    print(
        f"val Dice {m['val_dice_unrefined']:.5f} -> {m['val_dice']:.5f} with the refiner "
        f"({m['val_photos']} photos, {r['tiles']} tiles, {r['seconds']:.0f} s); model: {path}"
    )
    return 0


class _TqdmSink:
    def __init__(self):
        self.bar = None

    def __call__(self, e: dict) -> None:
        kind = e["event"]
        if kind == "start":
            _say(
                f"training on {e['device']}: {e['train_photos']} photos, "
                f"{e['val_photos']} validation photos"
            )
            self.bar = tqdm(total=e["total_steps"], unit="step", file=sys.stderr)
        elif kind == "step" and self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{e['loss']['total']:.4f}", epoch=e["epoch"])
        elif kind == "epoch":
            _say(
                f"epoch {e['epoch']}/{e['epochs']}: val Dice {e['val_dice']:.5f} "
                f"(best {e['best_val_dice']:.5f})"
            )
        elif kind in ("done", "cancelled") and self.bar is not None:
            self.bar.close()
        elif kind in ("log", "error"):
            _say(e.get("message", ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carmask", description="Car photo background removal")
    parser.add_argument("--version", action="version", version=f"carmask {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="cut out the cars in photos")
    p.add_argument("inputs", nargs="+", help="photos and folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format",
        action="append",
        choices=EXPORT_FORMATS,
        help="png: transparent cutout (default), mask: mask PNG, jpg: on a colour",
    )
    p.add_argument(
        "--background",
        type=_parse_colour,
        default="#FFFFFF",
        help="colour for --format jpg: #RRGGBB, #RGB or a name such as white",
    )
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_MAX_MEGAPIXELS,
        help=f"refuse larger photos (default {DEFAULT_MAX_MEGAPIXELS:g}; about 55 MB of memory "
        "per megapixel)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _model_args(p)
    p.set_defaults(func=cmd_predict)

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
    except (DeviceError, ModelFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
