"""Write a model file's networks as OpenVINO IR files, for a predictor without torch.

    python -m engine.inference.backends.export_ir MODEL.safetensors FOLDER

FOLDER (new, or empty) gets the U-Net's and the edge refiner's IR in float32, converted exactly
as the OpenVINO backend converts them for its cache (`openvino_model.convert`), and the sidecar
`source.json` (`ir_files`) with the SHA-256 of the model file and of every IR file. It is written
in a temporary folder beside FOLDER and renamed into place: a failed export leaves nothing.
`engine.inference.lite.LitePredictor` reads such a folder (`ir_files.read_ir`); this module needs
torch, the reading does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from engine.inference.backends.ir_files import read_ir, write_sidecar
from engine.inference.backends.openvino_model import convert
from engine.modelfiles.checkpoint import load_model
from engine.modelfiles.header import ModelFileError


def export_ir(model_file, folder) -> Path:
    """Convert `model_file` into `folder` (which must not exist, or be empty); the folder."""
    model_file, folder = Path(model_file), Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} already exists and is not an empty folder")
    model, header = load_model(model_file, torch.device("cpu"))
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        convert(model, header.input_size, work)
        refiner = model.refiner
        tiling = None
        if refiner is not None:
            tiling = {"tile": refiner.tile, "margin": refiner.margin, "band": refiner.band}
        feed = {
            "stride": int(model.stride),
            "mean": [float(v) for v in model.mean.flatten()],
            "std": [float(v) for v in model.std.flatten()],
            "refiner": tiling,
        }
        write_sidecar(work, model_file, header, feed)
        read_ir(work)  # what a reader will check, checked once here
        work.chmod(0o755)  # a folder like any other, not mkdtemp's private one
        if folder.exists():
            folder.rmdir()
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path, help="a CarMask model file (.safetensors)")
    p.add_argument("folder", type=Path, help="where the IR files go (new, or empty)")
    args = p.parse_args(argv)
    try:
        out = export_ir(args.model, args.folder)
    except (ModelFileError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({', '.join(sorted(f.name for f in out.iterdir()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
