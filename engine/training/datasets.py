"""What a U-Net training run learns from: the photo/mask pairs with the paper's crop and colour
augmentation, or (with `compose`) those cars composed onto studios, scenes and real photos."""

from __future__ import annotations

from engine.training.config import TrainConfig
from engine.training.data import Augment, PairDataset
from engine.training.pairs import Pair


def training_dataset(cfg: TrainConfig, train_pairs: list[Pair]):
    """The run's dataset (its `epoch` attribute is set before each epoch)."""
    if not cfg.compose:
        return PairDataset(
            train_pairs, cfg.input_size, Augment(), cfg.cache_dir or None, cfg.seed, cfg.crop_size
        )
    from engine.training.scenes.dataset import ComposeConfig, ComposedDataset, Mix
    from engine.training.scenes.sources import find_scenes

    cc = ComposeConfig.from_dict(cfg.compose)
    if cfg.crop_size is None:
        raise ValueError("scene composition trains on crops: give a crop size")
    return ComposedDataset(
        train_pairs,
        cfg.input_size,
        cfg.crop_size,
        scenes=find_scenes(cc.scenes) if cc.scenes else (),
        photos=[Pair.from_dict(d) for d in cc.photos],
        mix=Mix(**cc.mix),
        cache_dir=cc.cache_dir or cfg.cache_dir or None,
        seed=cfg.seed,
        epoch_size=cc.epoch_size,
        small_cars=cc.small_cars,
        clutter=cc.clutter,
        dark=cc.dark,
    )
