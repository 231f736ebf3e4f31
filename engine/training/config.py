"""What a training run is: presets (the paper's five configurations, light CPU models) and the
`TrainConfig` a run is started with. No torch here: the CLI and the fine-tuning wizard build
configurations without loading it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.models.config import UNetConfig, hw

# `carmask --engine-train --config run.json` (and the frozen GUI's executable): the wizard's
# training child, streaming JSON events
TRAIN_CHILD_FLAG = "--engine-train"

WEIGHT_DECAY = 1e-4  # the paper's L2 term, as the optimiser's weight decay

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant", "step")


@dataclass(frozen=True)
class Preset:
    arch: UNetConfig
    input_size: tuple[int, int]
    batch_size: int
    description: str


PRESETS: dict[str, Preset] = {
    "paper-vgg16-concat-1024": Preset(
        UNetConfig("vgg16", "concat"), (1024, 1024), 16, "paper: VGG-16 concat 1024²"
    ),
    "paper-resnet50-concat-1280": Preset(
        UNetConfig("resnet50", "concat"), (1280, 1280), 16, "paper: ResNet-50 concat 1280²"
    ),
    "paper-resnet50-concat-1280x1536": Preset(
        UNetConfig("resnet50", "concat"), (1280, 1536), 8, "paper: ResNet-50 concat 1280×1536"
    ),
    "paper-resnet50-concat-1280x1920": Preset(
        UNetConfig("resnet50", "concat"), (1280, 1920), 8, "paper: ResNet-50 concat 1280×1920"
    ),
    "paper-resnet50-add-1024": Preset(
        UNetConfig("resnet50", "add"), (1024, 1024), 16, "paper: ResNet-50 add 1024²"
    ),
    "cpu-lite0-512x768": Preset(
        UNetConfig("efficientnet_lite0", "add", (128, 64, 32, 24, 16), 256),
        (512, 768),
        8,
        "light CPU model: EfficientNet-Lite0 add 512×768",
    ),
    "cpu-lite0-256x384": Preset(
        UNetConfig("efficientnet_lite0", "add", (128, 64, 32, 24, 16), 256),
        (256, 384),
        8,
        "CPU default: EfficientNet-Lite0 add 256×384 (soft edge targets, logits upsampled)",
    ),
    "cpu-resnet18-512x768": Preset(
        UNetConfig("resnet18", "add", (128, 64, 32, 24, 16), 256),
        (512, 768),
        8,
        "light CPU model: ResNet-18 add 512×768",
    ),
}


@dataclass
class TrainConfig:
    data: str = ""  # folder of photos with masks (any layout `find_pairs` understands)
    # or explicit pairs ({"image", "mask", "car", "label"} dicts, as `Pair.to_dict` writes): the
    # fine-tuning wizard picks and splits them itself, so it can score the base model on the same
    # held-out photos
    train_pairs: list = field(default_factory=list)
    val_pairs: list = field(default_factory=list)
    out: str = "model.safetensors"  # best model is written here
    name: str = ""
    preset: str = ""
    arch: UNetConfig = field(default_factory=UNetConfig)
    input_size: tuple[int, int] = (1024, 1024)
    # train on random crops of this size (HxW, at the input size's scale) instead of whole
    # photos: the paper's crop training, cheaper per step; validation sees whole photos
    crop_size: tuple[int, int] | None = None
    epochs: int = 10
    batch_size: int = 8
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = WEIGHT_DECAY
    schedule: str = "cosine"
    focal_gamma: float = 2.0
    val_fraction: float = 0.15
    val_data: str = ""  # a separate validation folder; else a split by car of `data`
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    workers: int = 0
    pretrained: str | None = "imagenet"
    init_from: str = ""  # fine-tune: start from this model file (it is never modified)
    size_from_base: bool = True  # fine-tune at the base model's input size (else `input_size`)
    freeze_encoder: bool = False
    max_steps: int = 0  # stop after this many steps in all (0: no limit); for short runs
    max_val_photos: int = 0  # 0: all; else this many spread evenly over the validation set
    threads: int = 0  # CPU threads for torch (0: torch's default)
    cache_dir: str = ""
    cancel_file: str = ""  # training stops cleanly when this file appears
    resume: bool = True  # continue from (and keep) the resume state; off for one-off runs
    # scene composition (`engine.training.scenes.dataset.ComposeConfig` fields): train on Carvana
    # cars
    # pasted into procedural studios and street scenes, mixed with the photos as they are
    compose: dict = field(default_factory=dict)
    # keep the model of the last epoch (else the best by validation Dice): for composed runs,
    # whose validation set (Carvana's studio) is not all they are trained for
    keep_last: bool = False

    def __post_init__(self):
        if isinstance(self.arch, dict):
            self.arch = UNetConfig.from_dict(self.arch)
        self.input_size = hw(self.input_size)
        if self.crop_size is not None:
            self.crop_size = hw(self.crop_size)
        if self.preset:
            p = PRESETS[self.preset]
            self.arch = p.arch
            if self.input_size == (1024, 1024):  # not set explicitly: the preset's size
                self.input_size = p.input_size
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}")

    @property
    def resume_path(self) -> Path:
        return Path(self.out).with_suffix(".resume.pt")

    def to_dict(self) -> dict:
        return asdict(self)


def step_plan(cfg: TrainConfig, train_photos: int) -> tuple[int, int, int]:
    """(batch size, steps per epoch, steps in all) of a run on this many training photos."""
    bs = max(1, min(cfg.batch_size, train_photos))
    steps_per_epoch = max(1, train_photos // bs)
    total = cfg.epochs * steps_per_epoch
    return bs, steps_per_epoch, min(total, cfg.max_steps) if cfg.max_steps else total
