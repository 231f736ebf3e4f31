"""The three stages of `carmask predict --ray`, as Ray Data runs them on the cluster's nodes.

Each row is one photo. `read_stage` (a Ray task, CPU) reads the photo's bytes, takes their
digest and, unless the manifest already has it done, decodes those bytes with `decode_photo` (as
`carmask predict` does: the colour profile kept from that decode for the export); `Segment` (a
Ray actor: one `Predictor` per actor, loaded once, on a GPU when the actor has one) makes the
mask; `export_stage` (a Ray task, CPU) writes the outputs with `export_photo` under the names the
driver planned. A photo that cannot be read, segmented or written becomes a row with status
"failed" and its reason; the job goes on. Nothing here imports ray: these are plain functions and
classes, importable (and testable) without it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.batch.export import FROM_FILE, ExportOptions, export_photo
from engine.batch.manifest import bytes_digest
from engine.batch.outputs import OutputPlan, source_id
from engine.inference.config import PredictConfig
from engine.io import ImageReadError, OutputWriteError, decode_photo

OK, UNCHANGED, FAILED = "ok", "unchanged", "failed"
Row = dict[str, Any]


@dataclass(frozen=True)
class JobSpec:
    """What every stage needs to know of the job (sent to the workers once)."""

    out: str
    formats: tuple[str, ...]
    background: tuple[int, int, int]
    max_megapixels: float
    models: tuple[str, ...]
    # what the actors' predictors run with (its models: the driver's, shipped as `models`)
    predict: PredictConfig = field(default_factory=PredictConfig)
    threads: int = 0  # torch threads per actor (0: as many as the actor's CPUs)


def _is_uri(path: str) -> bool:
    return "://" in path


def _read_bytes(photo: str) -> bytes:
    if _is_uri(photo):  # s3://, gs://, file://: through the filesystems pyarrow has
        from pyarrow import fs

        filesystem, inner = fs.FileSystem.from_uri(photo)
        with filesystem.open_input_stream(inner) as f:
            return f.read()
    with open(photo, "rb") as f:
        return f.read()


def _failed(row: Row, reason: str) -> Row:
    return {**_small(row), "status": FAILED, "reason": reason}


def _small(row: Row) -> Row:
    """The row without its pixels (what goes back to the driver)."""
    keep = ("photo", "outputs", "expect", "digest", "status", "reason", "note", "seconds")
    return {k: row.get(k, "") for k in keep} | {"seconds": float(row.get("seconds") or 0.0)}


def read_stage(row: Row, spec: JobSpec) -> Row:
    """Read one photo: its digest, and its pixels unless the manifest has it done already."""
    photo = row["photo"]
    t0 = time.perf_counter()
    try:
        data = _read_bytes(photo)
    except FileNotFoundError:
        return _failed(row, "file not found")
    except OSError as exc:
        return _failed(row, exc.strerror or str(exc))
    digest = bytes_digest(data)
    row = {**row, "digest": digest}
    if row.get("expect") and row["expect"] == digest:
        return {**_small(row), "status": UNCHANGED}
    try:  # the bytes read, decoded as `carmask predict` decodes them (engine.batch.photo)
        decoded = decode_photo(photo, data, spec.max_megapixels)
    except ImageReadError as exc:
        return _failed(row, exc.reason)
    rgb, alpha = decoded.rgb, decoded.alpha
    return {
        **_small(row),
        "status": OK,
        "note": decoded.note,
        "rgb": rgb.tobytes(),
        "height": rgb.shape[0],
        "width": rgb.shape[1],
        "alpha": b"" if alpha is None else alpha.tobytes(),
        "icc": decoded.icc or b"",  # its colour profile, from this one decode
        "seconds": time.perf_counter() - t0,
    }


def _rgb(row: Row) -> np.ndarray:
    shape = (int(row["height"]), int(row["width"]))
    return np.frombuffer(row["rgb"], np.uint8).reshape(*shape, 3).copy()  # writable, for torch


class Segment:
    """The actor's state: one `Predictor`, loaded once when Ray starts the actor."""

    def __init__(self, spec: JobSpec, model_files: list[tuple[str, Any]]) -> None:
        """`model_files`: (name, bytes, or a Ray object reference to them) per model."""
        import torch

        from engine.inference.editions import predictor_from_config

        self._models = tempfile.TemporaryDirectory(prefix="carmask-models-")
        paths = []
        for i, (name, data) in enumerate(model_files):
            path = Path(self._models.name) / f"{i}-{name}"
            path.write_bytes(data if isinstance(data, bytes) else _fetch(data))
            paths.append(path)

        threads = spec.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        self.predictor = predictor_from_config(replace(spec.predict, models=tuple(paths)))

    def __call__(self, row: Row) -> Row:
        if row["status"] != OK:
            return row
        t0 = time.perf_counter()
        try:
            # the main car with its soft edge (engine.matte), as `carmask predict` writes it
            cutout_alpha = self.predictor.predict_matte(_rgb(row)).alpha
        except (ValueError, RuntimeError) as exc:  # a photo the model cannot take (or OOM)
            return _failed(row, f"segmentation failed: {exc}")
        seconds = float(row["seconds"]) + time.perf_counter() - t0
        return {**row, "mask": cutout_alpha.tobytes(), "seconds": seconds}


def _fetch(ref) -> bytes:
    import ray  # only ever on a Ray worker: the driver sent a reference

    return ray.get(ref)


class _Planned(OutputPlan):
    """An `OutputPlan` holding the names the driver chose for one photo (with every photo of the
    batch in view), so the worker writes exactly those, with the plan's own checks."""

    def __init__(self, formats, photo: str, paths: dict[str, str], source: str) -> None:
        super().__init__(formats, [photo])
        self._photo = Path(photo)
        self._pinned = {f: Path(p) for f, p in paths.items()}
        self._source = source  # the photo or its URI (`photo` may be a local copy of it)

    def source(self, photo) -> str:
        return source_id(self._source) if Path(photo) == self._photo else super().source(photo)

    def assign(self, photo, out_dir) -> dict:
        if Path(photo) == self._photo:
            return self._pinned
        return super().assign(photo, out_dir)

    def write(self, path: Path, photo: Path, write: Callable) -> Path:
        """A task run again (Ray retries it when its node was lost after it wrote) finds its own
        file: the same bytes are left as they are, so each output is written once."""
        if self.folder(path.parent).owns(path):
            data = io.BytesIO()
            write(data)
            try:
                if path.read_bytes() == data.getvalue():
                    return path
            except OSError:
                pass  # gone meanwhile: written below
        return super().write(path, photo, write)


def export_stage(row: Row, spec: JobSpec) -> Row:
    """Write the photo's outputs (atomic writes, names as planned); the row loses its pixels."""
    if row["status"] != OK:
        return _small(row)
    t0 = time.perf_counter()
    rgb = _rgb(row)
    mask = np.frombuffer(row["mask"], np.uint8).reshape(rgb.shape[:2])  # the soft alpha
    alpha = np.frombuffer(row["alpha"], np.uint8).reshape(rgb.shape[:2]) if row["alpha"] else None
    outputs = json.loads(row["outputs"])
    options = ExportOptions(formats=spec.formats, background=spec.background)
    photo = row["photo"]
    plan = _Planned(spec.formats, photo, outputs, photo)
    icc = row["icc"] or None if "icc" in row else FROM_FILE  # the profile read_stage decoded
    try:
        export_photo(rgb, mask, photo, spec.out, options, plan, alpha, icc)
    except OutputWriteError as exc:
        return _failed(row, f"{exc.path}: {exc.reason}")
    except ValueError as exc:  # arrays that do not fit: named, the job goes on
        return _failed(row, f"cannot export: {exc}")
    return {**_small(row), "seconds": float(row["seconds"]) + time.perf_counter() - t0}
