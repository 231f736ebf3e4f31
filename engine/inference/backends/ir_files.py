"""Pre-converted OpenVINO models as files: a folder with the IR of a model file's networks and a
sidecar, read and checked without torch.

A folder made by `engine.inference.backends.export_ir` holds `unet.xml`/`unet.bin`, the edge
refiner's `refiner.xml`/`refiner.bin` when the model has one, and `source.json`: the source model
file's name and SHA-256, its header (as the model file stores it, with its own digest), what
feeding the networks needs (the stride, the normalisation, the refiner's tiling), the SHA-256 of
every IR file, and a digest of the sidecar itself. `read_ir` checks all of these before anything
is used: a changed byte in any file is an `IRFileError` naming the file, never a model run.
The sidecar's `files` are those the converted-model cache checks (`cache.entry_problem`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.inference.backends.cache import SOURCE, entry_problem
from engine.io.digest import file_digest
from engine.modelfiles.header import MODEL_SUFFIX, ModelHeader

FORMAT = "carmask-openvino-ir"
FORMAT_VERSION = 1
UNET, REFINER = "unet.xml", "refiner.xml"
NEEDS_FULL_EDITION = (
    "a model file, not a pre-converted model: converting it for the CPU edition needs the full "
    "edition of CarMask Studio (PyTorch); there, `python -m engine.inference.backends.export_ir "
    "MODEL FOLDER` writes a folder that `carmask predict --model FOLDER` runs here"
)
REEXPORT = "export it again with `python -m engine.inference.backends.export_ir MODEL FOLDER`"


class IRFileError(Exception):
    """A pre-converted model folder is missing, incomplete, changed or not one."""

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class RefinerTiling:
    tile: int  # interior pixels per tile side
    margin: int  # context pixels on each side
    band: float  # tiles holding a logit within ±band are refined


@dataclass(frozen=True)
class IRModel:
    """A checked pre-converted model: where its networks are and how to feed them."""

    folder: Path
    header: ModelHeader
    source_sha256: str  # of the model file it was converted from
    stride: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    refiner: RefinerTiling | None

    @property
    def unet_xml(self) -> Path:
        return self.folder / UNET

    @property
    def refiner_xml(self) -> Path:
        return self.folder / REFINER


def _body_digest(body: dict) -> str:
    body = {k: v for k, v in body.items() if k != "sidecar_digest"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_sidecar(folder: Path, model_file: Path, header: ModelHeader, feed: dict) -> None:
    """`source.json` for the IR files already in `folder`; `feed`: stride, mean, std, refiner."""
    folder = Path(folder)
    files = {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file()}
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_file": Path(model_file).name,
        "source_sha256": file_digest(model_file),
        "header": json.loads(header.to_json()),
        **feed,
        "files": files,
    }
    body["sidecar_digest"] = _body_digest(body)
    (folder / SOURCE).write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def read_ir(folder) -> IRModel:
    """The pre-converted model in `folder`, every checksum verified first (`IRFileError`)."""
    folder = Path(folder)
    if folder.is_file() and folder.suffix == MODEL_SUFFIX:
        raise IRFileError(folder, NEEDS_FULL_EDITION)
    if not folder.is_dir():
        raise IRFileError(folder, "no such folder of a pre-converted model")
    try:
        body = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IRFileError(folder, f"{SOURCE} is missing; {REEXPORT}") from None
    except (OSError, ValueError) as exc:
        raise IRFileError(folder / SOURCE, f"unreadable ({exc}); {REEXPORT}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise IRFileError(folder / SOURCE, "not the sidecar of a pre-converted CarMask model")
    if body.get("format_version") != FORMAT_VERSION:
        raise IRFileError(folder / SOURCE, f"format {body.get('format_version')!r}; {REEXPORT}")
    if body.get("sidecar_digest") != _body_digest(body):
        raise IRFileError(folder / SOURCE, f"does not match its SHA-256 (changed); {REEXPORT}")
    if UNET not in body.get("files", {}):
        raise IRFileError(folder / SOURCE, f"lists no {UNET}; {REEXPORT}")
    problem = entry_problem(folder)
    if problem is not None:
        name = problem.split(" ", 1)[0]
        raise IRFileError(folder / name, f"{problem}: not used; {REEXPORT}")
    try:
        header = ModelHeader.from_json(json.dumps(body["header"]))
        tiling = body["refiner"]
        refiner = RefinerTiling(**tiling) if tiling is not None else None
        if (refiner is not None) != (REFINER in body["files"]):
            raise ValueError("the refiner's tiling and its network do not go together")
        mean, std = tuple(map(float, body["mean"])), tuple(map(float, body["std"]))
        if len(mean) != 3 or len(std) != 3:
            raise ValueError("mean and std need three values")
        return IRModel(
            folder, header, str(body["source_sha256"]), int(body["stride"]), mean, std, refiner
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IRFileError(folder / SOURCE, f"damaged: {exc}; {REEXPORT}") from None
