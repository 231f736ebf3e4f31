"""Batches writing into one output folder: each photo's outputs are there once, with its own
pixels, whether the batches run at once (threads over the engine's real write path:
`OutputPlan` and `export_photo`, as the CLI, a watched folder and the app's Export use them) or
one after the other (issue 30, item 3). Real photos and their real masks."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
from cutout_checks import assert_cutout_of
from PIL import Image

from engine.batch.export import ExportOptions, export_photo
from engine.batch.outputs import MANIFEST_NAME, OutputPlan
from engine.io import read_mask, read_photo

CARVANA = Path(__file__).parents[1] / "data" / "carvana"
OPTIONS = ExportOptions(formats=("png", "mask"))


def _camera(folder: Path, split: str, n: int) -> dict[Path, Path]:
    """`n` photos of the split copied in as a camera names them (IMG_0001.jpg, ...): each
    with its real mask."""
    folder.mkdir()
    shots = {}
    for i, photo in enumerate(sorted((CARVANA / split).glob("*.jpg"))[:n], 1):
        shutil.copy(photo, folder / f"IMG_{i:04d}.jpg")
        shots[folder / f"IMG_{i:04d}.jpg"] = CARVANA / f"{split}_masks" / f"{photo.stem}_mask.gif"
    return shots


def _batch(shots: dict[Path, Path], out: Path, planned: threading.Barrier | None = None):
    plan = OutputPlan(OPTIONS.formats, list(shots))
    for photo in shots:
        plan.assign(photo, out)
    if planned is not None:
        planned.wait(timeout=60)  # every batch's names chosen before any batch writes
    for photo, mask in shots.items():
        rgb = read_photo(photo).rgb
        export_photo(rgb, read_mask(mask), photo, out, OPTIONS, plan)


def _check_every_photo_once(out: Path, *cameras: dict[Path, Path]) -> None:
    """Each photo's cutout and mask: once each, recorded as its, holding its pixels and mask."""
    written: dict[Path, list[str]] = {}
    for line in (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if "name" in e:
            written.setdefault(Path(e["from"]), []).append(e["name"])
    shots = {photo: mask for camera in cameras for photo, mask in camera.items()}
    assert sorted(written) == sorted(shots)
    names = [name for files in written.values() for name in files]
    assert len(names) == len(set(names)) == 2 * len(shots)  # no file is two photos' outputs
    assert sorted(p.name for p in out.glob("*.png")) == sorted(names)
    for photo, files in written.items():
        rgb = read_photo(photo).rgb
        cutout, mask = sorted(files, key=lambda n: n.endswith("_mask.png"))
        truth = read_mask(shots[photo])
        assert_cutout_of(np.asarray(Image.open(out / cutout)), rgb, truth)
        assert np.array_equal(np.asarray(Image.open(out / mask)) > 127, truth)


def test_two_batches_at_once_into_one_folder_never_write_over_each_other(tmp_path):
    """Two cameras' IMG_0001... (other cars), each camera's batch on its own thread with its own
    plan, both planned before either writes (as two `carmask` runs started together)."""
    a = _camera(tmp_path / "camera_a", "val", 7)
    b = _camera(tmp_path / "camera_b", "train", 7)
    out = tmp_path / "out"
    planned = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(shots):
        try:
            _batch(shots, out, planned)
        except BaseException as exc:
            planned.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(shots,)) for shots in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    _check_every_photo_once(out, a, b)


def test_a_second_shoot_with_the_same_names_keeps_the_first_shoots_outputs(tmp_path):
    """One after the other: the second camera's IMG_0001.jpg does not replace the first one's
    cutout; a rerun of the first camera writes its own files again, and nothing more."""
    a = _camera(tmp_path / "camera_a", "val", 3)
    b = _camera(tmp_path / "camera_b", "train", 3)
    out = tmp_path / "out"
    _batch(a, out)
    _batch(b, out)
    _check_every_photo_once(out, a, b)
    _batch(a, out)
    assert len(list(out.glob("*.png"))) == 2 * (len(a) + len(b))
