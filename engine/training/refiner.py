"""Training a model file's edge refiner (`engine.models.refiner`) on full-size photos with masks.

    carmask refine --model base.safetensors --data train/ --val-data val/ --out refined.safetensors

1. Tiles: each training photo goes through the base model (or, picked at random per photo, one
   of the `helpers`: other models whose different mistakes show the refiner more kinds of wrong
   edge). Along the uncertain band of the full-size logits, up to `tiles_per_photo` random tiles
   are kept: the photo, the logits and the true mask.
2. Training: BCE on the tile interiors, AdamW (warm-up, then cosine learning rate), horizontal
   flips and brightness/contrast jitter. The U-Net itself is not changed.
3. The result is a new model file: the base model plus the refiner (the base file is kept), with
   the val Dice with and without the refiner in its header.

`refiner_from` starts from another model file's refiner instead; with `steps` 0 it is copied as
it is (how the shipped ensemble members share the default's refiner, which was trained on edges
of several of them).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.inference.devices import describe_compute, resolve_device, training_dtype
from engine.inference.predict import LoadedModel, Predictor
from engine.modelfiles.checkpoint import ModelHeader, load_model, save_model
from engine.models.refiner import EdgeRefiner, uncertain_tiles
from engine.training.core import (
    MixedPrecision,
    StepClock,
    StepInfo,
    find_train_val,
    prepare_run,
    run_steps,
)
from engine.training.metrics import mean_dice
from engine.training.pairs import Pair, load_pair

COLLECT_TILE, COLLECT_BAND = 48, 6.0  # training tiles: larger and from a wider band than at use

Progress = Callable[[str, int, int, dict], None]  # (stage, done, total, info)


@dataclass
class RefineConfig:
    model: str  # base model file (kept)
    data: str  # photos with masks
    out: str  # the new model file
    val_data: str = ""  # else a split of `data` by car
    val_fraction: float = 0.1
    name: str = ""
    helpers: list[str] = field(default_factory=list)
    refiner_from: str = ""  # start from this model file's refiner (e.g. another ensemble member's)
    width: int = 12  # ignored with refiner_from: its width is kept
    tiles_per_photo: int = 40
    steps: int = 3000
    batch_size: int = 96
    lr: float = 2e-3
    weight_decay: float = 1e-4
    max_val_photos: int = 16
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision as in training: bf16 on a CPU that has it, fp16 on CUDA


@dataclass
class Tiles:
    photo: np.ndarray  # N×S×S×3 uint8, S = tile + 2·margin
    logits: np.ndarray  # N×S×S float16 (the U-Net's full-size logits)
    truth: np.ndarray  # N×tile×tile uint8 (0/1), the interior's true mask

    def __len__(self) -> int:
        return len(self.truth)


def photo_tiles(
    rgb: np.ndarray,
    logits: np.ndarray,
    truth: np.ndarray,
    margin: int,
    limit: int,
    rng: np.random.Generator,
    tile: int = COLLECT_TILE,
    band: float = COLLECT_BAND,
) -> Tiles:
    """Up to `limit` random tiles of one photo along its uncertain band (see `EdgeRefiner`)."""
    grid = uncertain_tiles(torch.from_numpy(logits), tile, band).numpy()
    rows, cols = np.nonzero(grid)
    pick = rng.permutation(len(rows))[:limit]
    h, w = truth.shape
    ph, pw = grid.shape[0] * tile - h, grid.shape[1] * tile - w
    around = ((margin, margin + ph), (margin, margin + pw))
    big_rgb = np.pad(rgb, (*around, (0, 0)), mode="edge")
    big_logits = np.pad(logits, around, mode="edge")
    big_truth = np.pad(truth, ((0, ph), (0, pw)), mode="edge")
    s, n = tile + 2 * margin, len(pick)
    out = Tiles(
        np.empty((n, s, s, 3), np.uint8),
        np.empty((n, s, s), np.float16),
        np.empty((n, tile, tile), np.uint8),
    )
    for k, i in enumerate(pick):
        y, x = rows[i] * tile, cols[i] * tile
        out.photo[k] = big_rgb[y : y + s, x : x + s]
        out.logits[k] = big_logits[y : y + s, x : x + s]
        out.truth[k] = big_truth[y : y + tile, x : x + tile]
    return out


def collect_tiles(
    pairs: list[Pair],
    predictors: list[Predictor],
    margin: int,
    per_photo: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> Tiles:
    """Tiles from every photo, each photo's logits from one predictor picked at random. The pairs
    come from `find_pairs`, which already decoded each one and set aside the unreadable and the
    mismatched ones (its report's problems)."""
    rng = np.random.default_rng(seed)
    parts: list[Tiles] = []
    for i, pair in enumerate(pairs):
        rgb, truth = load_pair(pair)
        pred = predictors[int(rng.integers(len(predictors)))]
        logits = pred.full_size_logits(pred.models[0], rgb).cpu().numpy()
        parts.append(photo_tiles(rgb, logits, truth, margin, per_photo, rng))
        if progress:
            progress("tiles", i + 1, len(pairs), {})
    if not parts:
        raise ValueError("no photo/mask pairs to cut training tiles from")
    return Tiles(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(Tiles))
    )


def train_on_tiles(
    refiner: EdgeRefiner,
    tiles: Tiles,
    cfg: RefineConfig,
    device: torch.device,
    progress: Progress | None = None,
) -> dict:
    """Fit the refiner to the tiles; returns the final running losses (refined and coarse BCE)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    refiner.to(device).train()
    amp = MixedPrecision(device, cfg.amp)
    opt = torch.optim.AdamW(refiner.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, cfg.steps // 20)  # linear warm-up, then a cosine decay to zero

    def lr_at(i: int) -> float:
        return cfg.lr * min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * i / cfg.steps))

    m, n = refiner.margin, len(tiles)
    t = tiles.truth.shape[-1]
    bs = min(cfg.batch_size, n)
    running = {"loss": 0.0, "coarse": 0.0}

    def batches():
        for _ in range(cfg.steps):
            yield np.sort(rng.choice(n, bs, replace=False))

    def step(idx) -> dict[str, float]:
        x = torch.from_numpy(tiles.photo[idx]).to(device).permute(0, 3, 1, 2).float() / 255
        lg = torch.from_numpy(tiles.logits[idx]).to(device).float()[:, None]
        y = torch.from_numpy(tiles.truth[idx]).to(device).float()[:, None]
        if rng.random() < 0.5:
            x, lg, y = x.flip(-1), lg.flip(-1), y.flip(-1)
        gain = torch.empty(bs, 1, 1, 1).uniform_(0.85, 1.15, generator=gen).to(device)
        shift = torch.empty(bs, 1, 1, 1).uniform_(-0.06, 0.06, generator=gen).to(device)
        x = (x * gain + shift).clamp_(0, 1)
        with amp.autocast():
            out = refiner.forward_interior(x, lg)
        loss = F.binary_cross_entropy_with_logits(out.float(), y)
        amp.step(opt, loss)
        with torch.no_grad():
            coarse = F.binary_cross_entropy_with_logits(lg[:, :, m : m + t, m : m + t], y)
        return {"loss": loss.item(), "coarse": coarse.item()}

    def on_step(info: StepInfo) -> None:
        a = 0.02 if info.global_step > 1 else 1.0  # running means of the two losses
        for k in running:
            running[k] += a * (info.losses[k] - running[k])
        if progress:
            progress("train", info.global_step, cfg.steps, dict(running))

    run_steps(
        batches(),
        step,
        opt,
        lr_at,
        global_step=0,
        total=cfg.steps,
        clock=StepClock(),
        on_step=on_step,
    )
    refiner.eval()
    return running


def val_dice(predictor: Predictor, pairs: list[Pair]) -> float:
    """Mean full-size Dice of the predictor's masks (NaN without validation photos)."""
    if not pairs:
        return float("nan")
    return mean_dice((predictor.predict(rgb), truth) for rgb, truth in map(load_pair, pairs))


def _starting_refiner(cfg: RefineConfig, model) -> tuple[EdgeRefiner, str]:
    """A fresh refiner, or a copy of `refiner_from`'s, or (same width) the model's own to go on;
    and where it came from ("<model name> (<sha256 start>)", or "" for a fresh one)."""
    if cfg.refiner_from:
        donor, header = load_model(cfg.refiner_from)
        if donor.refiner is None:
            raise ValueError(f"{cfg.refiner_from}: this model file has no edge refiner")
        refiner = EdgeRefiner(donor.refiner.width)
        refiner.load_state_dict(donor.refiner.state_dict())
        return refiner, f"{header.name} ({header.sha256[:12]})"
    refiner = EdgeRefiner(cfg.width)
    if model.refiner is not None and model.refiner.width == cfg.width:
        refiner.load_state_dict(model.refiner.state_dict())  # go on from the file's refiner
        return refiner, "its own"
    return refiner, ""


def refine_model(cfg: RefineConfig, progress: Progress | None = None) -> tuple[Path, ModelHeader]:
    """Train the base model's refiner (see the module docstring); the new file and its header."""
    if Path(cfg.out).resolve() == Path(cfg.model).resolve():
        raise ValueError("--out must differ from --model (the base model is kept)")
    if cfg.steps < 0 or (cfg.steps == 0 and not cfg.refiner_from):
        raise ValueError("--steps must be positive (0 only to copy --refiner-from as it is)")
    prepare_run(cfg.threads, cfg.seed)
    device = resolve_device(cfg.device)
    t0 = time.time()
    found = find_train_val(cfg.data, cfg.val_data, cfg.val_fraction, cfg.seed, cfg.max_val_photos)
    train, val, report = found.train, found.val, found.report

    model, base = load_model(cfg.model, device)
    # PyTorch throughout, as the refined model in memory is measured with (`after`)
    coarse = Predictor(
        [LoadedModel(model, base, Path(cfg.model))], str(device), refine=False, backend="torch"
    )
    helpers = [Predictor([h], str(device), refine=False, backend="torch") for h in cfg.helpers]
    refiner, start = _starting_refiner(cfg, model)
    tiles: Tiles | list = []
    losses: dict[str, float] = {}
    if cfg.steps > 0:
        tiles = collect_tiles(
            train,
            [coarse, *helpers],
            refiner.margin,
            cfg.tiles_per_photo,
            cfg.seed,
            progress,
        )
        losses = train_on_tiles(refiner, tiles, cfg, device, progress)

    before = val_dice(coarse, val)
    model.refiner = refiner.to(device)
    model.config = dataclasses.replace(model.config, refiner_width=refiner.width)
    after = val_dice(Predictor([LoadedModel(model, base)], str(device)), val)

    header = dataclasses.replace(base, name=cfg.name or Path(cfg.out).stem, created="", sha256="")
    header.training = {
        **base.training,
        "refiner": {
            "base_model": base.name,
            "data": str(cfg.data),
            "train_photos": len(train),
            "tiles": len(tiles),
            "helpers": [Path(h).stem for h in cfg.helpers],
            "started_from": start,
            "width": refiner.width,
            **{
                k: getattr(cfg, k) for k in ("tiles_per_photo", "steps", "batch_size", "lr", "seed")
            },
            "final_bce": {k: round(v, 5) for k, v in losses.items()},
            "seconds": round(time.time() - t0, 1),
            "device": describe_compute(device, training_dtype(device, cfg.amp)),
            "problems": len(report.problems),
        },
    }
    header.metrics = {
        **base.metrics,
        "val_dice": after,
        "val_dice_unrefined": before,
        "val_photos": len(val),
    }
    return save_model(cfg.out, model, header), header
