"""A model file's header, read without torch (fast: listing the model library, app start-up).

safetensors keeps a JSON metadata block before the weights; CarMask stores its `ModelHeader` there:
what is needed to rebuild and feed the model and what a person wants to know about it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

from safetensors import SafetensorError, safe_open

from engine import __version__
from engine.models.config import IMAGENET_MEAN, IMAGENET_STD, UNetConfig

MODEL_SUFFIX = ".safetensors"
FORMAT_NAME = "carmask-model"
FORMAT_VERSION = 2  # 2: `digest` covers the header and the weights, and is required
_HEADER_KEY = "carmask"
_DTYPES = ("float16", "bfloat16", "float32")
_MIN_SIDE, _MAX_SIDE = 32, 8192
RESAVE_HINT = (
    "re-save it with `carmask models resave FILE NEW_FILE` (only for a file you trust: "
    "it is given a new checksum)"
)


class ModelFileError(Exception):
    """A model file is missing, truncated, tampered with or not a CarMask model."""

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass
class ModelHeader:
    """What a model file says about its model."""

    name: str
    arch: UNetConfig = field(default_factory=UNetConfig)
    input_size: tuple[int, int] = (1024, 1024)  # (height, width) the model sees
    threshold: float = 0.5
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    training: dict = field(default_factory=dict)  # data summary, recipe, epochs, licence note
    metrics: dict = field(default_factory=dict)  # e.g. {"val_dice": 0.996, "val_photos": 256}
    created: str = ""
    version: str = __version__
    dtype: str = "float16"
    sha256: str = ""  # of the weights alone
    digest: str = ""  # of the whole header (but this field) and the weights' sha256

    def to_json(self) -> str:
        d = asdict(self)
        d["format"], d["format_version"] = FORMAT_NAME, FORMAT_VERSION
        return json.dumps(d, sort_keys=True)

    def sealed(self) -> ModelHeader:
        """This header with `digest` set (`sha256` must already be the weights' digest)."""
        d = json.loads(self.to_json())
        self.digest = header_digest(d)
        return self

    @classmethod
    def from_json(cls, text: str, legacy: bool = False) -> ModelHeader:
        """Parse and check a header field by field (ValueError names the field). A header
        without a digest (format 1) is refused unless ``legacy`` (for `models resave`)."""
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != FORMAT_NAME:
            raise ValueError("not a CarMask model file")
        version = d.get("format_version", 0)
        if not isinstance(version, int):
            raise ValueError(f"field 'format_version' is {version!r}; must be a whole number")
        if version > FORMAT_VERSION:
            raise ValueError(f"made by a newer CarMask (format {version}); update the app")
        if not legacy:
            if version < 2 or not d.get("digest"):
                raise ValueError(
                    f"made by an older CarMask, without a checksum of its header; {RESAVE_HINT}"
                )
            if d["digest"] != header_digest(d):
                raise ValueError("the header does not match its checksum (file edited or damaged)")
        elif version >= 2 and d.get("digest") != header_digest(d):  # resave: format 1 only
            raise ValueError(
                "the header does not match its checksum (file edited or damaged); only a file "
                "made by an older CarMask (format 1) is re-saved"
            )
        return cls(**_checked_fields(d))

    @property
    def label(self) -> str:
        h, w = self.input_size
        dice = self.metrics.get("val_dice")
        score = f", val Dice {dice:.4f}" if isinstance(dice, float) else ""
        return f"{self.name} ({self.arch.encoder} {self.arch.join}, {h}×{w}{score})"


def header_digest(d: dict) -> str:
    """SHA-256 of a header as stored (every field but `digest`, canonical JSON); the weights
    are covered through their own digest, the `sha256` field."""
    body = {k: v for k, v in d.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _fail(name: str, value, rule: str) -> NoReturn:
    raise ValueError(f"field {name!r} is {value!r}; {rule}")


def _number(name: str, v, low: float | None = None, high: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        _fail(name, v, "must be a number")
    if (low is not None and v <= low) or (high is not None and v >= high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"above {low:g}"
        _fail(name, v, f"must be {bounds}")
    return float(v)


def _checked_fields(d: dict) -> dict:
    """The header's fields as ModelHeader takes them, each checked; ValueError names the first
    bad one."""
    out: dict = {}
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        _fail("name", name, "must be a non-empty text")
    out["name"] = name
    arch = d.get("arch")
    if not isinstance(arch, dict):
        _fail("arch", arch, "must describe the network")
    enc = arch.get("encoder")
    if not isinstance(enc, str) or not enc:
        _fail("arch.encoder", enc, "must name an encoder")
    widths = arch.get("decoder_widths", UNetConfig.decoder_widths)
    if not isinstance(widths, list | tuple) or not all(
        isinstance(w, int) and not isinstance(w, bool) and 0 < w <= 4096 for w in widths
    ):
        _fail("arch.decoder_widths", widths, "must be five whole numbers from 1 to 4096")
    for key in ("middle_width", "refiner_width"):
        v = arch.get(key, 0 if key == "refiner_width" else 1)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 4096:
            _fail(f"arch.{key}", v, "must be a whole number from 0 to 4096")
    try:
        out["arch"] = UNetConfig.from_dict(arch)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"field 'arch': {exc}") from None
    size = d.get("input_size")
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        or not all(_MIN_SIDE <= v <= _MAX_SIDE for v in size)
    ):
        _fail("input_size", size, f"must be [height, width] from {_MIN_SIDE} to {_MAX_SIDE}")
    out["input_size"] = tuple(size)
    out["threshold"] = _number("threshold", d.get("threshold"), 0.0, 1.0)
    for key, low, high in (("mean", -1.0, 2.0), ("std", 0.0, None)):
        v = d.get(key)
        if not isinstance(v, list | tuple) or len(v) != 3:
            _fail(key, v, "must be three numbers (red, green, blue)")
        out[key] = tuple(_number(f"{key}[{i}]", x, low, high) for i, x in enumerate(v))
    for key in ("training", "metrics"):
        v = d.get(key, {})
        if not isinstance(v, dict):
            _fail(key, v, "must be a JSON object")
        out[key] = v
    for key in ("created", "version"):
        v = d.get(key, "")
        if not isinstance(v, str):
            _fail(key, v, "must be text")
        out[key] = v
    if d.get("dtype", "float16") not in _DTYPES:
        _fail("dtype", d.get("dtype"), f"must be one of {', '.join(_DTYPES)}")
    out["dtype"] = d.get("dtype", "float16")
    for key in ("sha256", "digest"):
        v = d.get(key, "")
        if not isinstance(v, str) or (v and (len(v) != 64 or v.strip("0123456789abcdef"))):
            _fail(key, v, "must be a SHA-256 in hex")
        out[key] = v
    return out


def read_header(path, legacy: bool = False) -> ModelHeader:
    """Read only the header (fast: the weights are not loaded), every field checked."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(
            path, "a folder, not a model file (a converted model folder is for the CPU edition)"
        )
    if not path.is_file():
        raise ModelFileError(path, "model file not found")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            path, f"not a readable model file (truncated or corrupt): {exc}"
        ) from exc
    if _HEADER_KEY not in meta:
        raise ModelFileError(path, "not a CarMask model file (no CarMask header)")
    try:
        return ModelHeader.from_json(meta[_HEADER_KEY], legacy=legacy)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(path, f"damaged model header: {exc}") from exc


def list_models(folder) -> tuple[list[tuple[Path, ModelHeader]], list[ModelFileError]]:
    """The model library: every model file in a folder, and the files that could not be read."""
    found: list[tuple[Path, ModelHeader]] = []
    errors: list[ModelFileError] = []
    folder = Path(folder)
    if not folder.is_dir():
        return found, errors
    for p in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
        try:
            found.append((p, read_header(p)))
        except ModelFileError as exc:
            errors.append(exc)
    return found, errors
