"""`carmask train|finetune|refine`: training runs from the command line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tqdm import tqdm

from engine.cli.common import (
    _model_out_problem,
)
from engine.inference.editions import require_torch
from engine.io.console import say
from engine.training.config import PRESETS


def cmd_train(args, finetune: bool = False) -> int:
    require_torch("fine-tuning" if finetune else "training")
    from engine.training.config import TrainConfig
    from engine.training.events import JsonLinesSink
    from engine.training.trainer import Trainer

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
    from engine.training.pairs import find_pairs

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
    require_torch("training the edge refiner")
    from engine.training.refiner import RefineConfig, refine_model

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
        say(f"{r['problems']} photo/mask pairs skipped (unreadable or mismatched)")
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
            say(
                f"training on {e['device']}: {e['train_photos']} photos, "
                f"{e['val_photos']} validation photos"
            )
            self.bar = tqdm(total=e["total_steps"], unit="step", file=sys.stderr)
        elif kind == "step" and self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{e['loss']['total']:.4f}", epoch=e["epoch"])
        elif kind == "epoch":
            say(
                f"epoch {e['epoch']}/{e['epochs']}: val Dice {e['val_dice']:.5f} "
                f"(best {e['best_val_dice']:.5f})"
            )
        elif kind in ("done", "cancelled") and self.bar is not None:
            self.bar.close()
        elif kind in ("log", "error"):
            say(e.get("message", ""))
