"""The header a trained model file carries: what it was trained on, how, and how well."""

from __future__ import annotations

from pathlib import Path

from engine.modelfiles.header import ModelHeader
from engine.models.config import hw
from engine.training.config import TrainConfig
from engine.training.pairs import Pair

RECIPE_FIELDS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "weight_decay",
    "focal_gamma",
    "seed",
    "pretrained",
    "freeze_encoder",
    "preset",
    "crop_size",
    "compose",
)


def trained_header(
    cfg: TrainConfig,
    train_pairs: list[Pair],
    val_pairs: list[Pair],
    best: float,
    epochs_done: int,
    device_label: str,
    base: ModelHeader | None,
) -> ModelHeader:
    """The model file's header after `epochs_done` epochs, with its best validation Dice; a
    fine-tuned model names the model it started from and that model's figures."""
    cars = sorted({p.car for p in train_pairs})
    training: dict = {
        "data": str(cfg.data),
        "train_photos": len(train_pairs),
        "train_cars": len(cars),
        "val_photos": len(val_pairs),
        "recipe": {k: getattr(cfg, k) for k in RECIPE_FIELDS},
        "epochs_done": epochs_done,
        "device": device_label,
    }
    if base is not None:
        training["finetuned_from"] = {"name": base.name, "metrics": base.metrics}
    return ModelHeader(
        cfg.name or Path(cfg.out).stem,
        cfg.arch,
        hw(cfg.input_size),
        training=training,
        metrics={"val_dice": best, "val_photos": len(val_pairs)},
    )
