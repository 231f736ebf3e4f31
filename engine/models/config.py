"""A U-Net variant as plain data (no torch): model file headers are read without loading torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass

JOIN_MODES = ("concat", "add")
# how photos are normalised for ImageNet-pretrained encoders (torchvision's), and so for the
# edge refiner and any model file whose header does not say otherwise
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def hw(size) -> tuple[int, int]:
    """(height, width) as two ints, from any pair (a list read from JSON, a tuple)."""
    h, w = size
    return int(h), int(w)


@dataclass(frozen=True)
class UNetConfig:
    encoder: str = "resnet50"
    join: str = "concat"
    decoder_widths: tuple[int, ...] = (256, 128, 64, 32, 16)
    middle_width: int = 512
    refiner_width: int = 0  # >0: a full-resolution edge refiner of that width (models/refiner.py)

    def __post_init__(self):
        if self.join not in JOIN_MODES:
            raise ValueError(f"join must be one of {JOIN_MODES}, not {self.join!r}")
        if len(self.decoder_widths) != 5:
            raise ValueError("decoder_widths needs one width per upsampling step (5)")
        if self.refiner_width < 0:
            raise ValueError("refiner_width must be 0 (no refiner) or positive")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        d = dict(d)
        d["decoder_widths"] = tuple(d.get("decoder_widths", cls.decoder_widths))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
