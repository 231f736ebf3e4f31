"""`carmask predict`'s report and outputs: nothing of the studio's replaced, nothing of the batch's
own lost, nothing silently wrong (issue 30, items 1, 2, 3 and 12).

Real photos, the tiny trained model, real files; the batches that run at once are two real
`carmask` processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cutout_checks import assert_cutout_of
from factories import rewrite_header
from PIL import Image

from engine.batch.outputs import MANIFEST_NAME
from engine.cli import main
from engine.io import read_photo

ROOT = Path(__file__).resolve().parents[2]
CARVANA = ROOT / "tests" / "data" / "carvana"
PHOTOS = sorted((CARVANA / "val").glob("*.jpg"))


def _predict(model, *args) -> int:
    return main(["predict", *map(str, args), "--model", str(model), "--device", "cpu", "-q"])


def _outputs(record: Path) -> list[dict]:
    """The record's lines for files written (not the names claimed)."""
    lines = [json.loads(x) for x in record.read_text(encoding="utf-8").splitlines()]
    return [e for e in lines if "name" in e]


@pytest.mark.parametrize(
    "text",
    [
        "\nIMPORTANT customer list\n",
        "{}\nIMPORTANT customer list\n",
        '{"file": "car.jpg", "status": "done"}\nIMPORTANT customer list\n',
    ],
)
def test_report_never_replaces_a_file_that_is_not_line_by_line_a_report(
    trained_model, tmp_path, text
):
    """Item 1: a blank or `{}` first line (or a report's line above the studio's text) does not
    make a file a report."""
    notes = tmp_path / "notes.txt"
    notes.write_text(text)
    with pytest.raises(SystemExit, match="not a carmask report"):
        _predict(trained_model, PHOTOS[0], "--out", tmp_path / "o", "--report", notes)
    assert notes.read_text() == text
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_report_never_takes_the_place_of_a_file_of_the_batch(trained_model, tmp_path, capsys):
    """Item 2: the report named as a cutout, or as the output folder's record, is refused before
    anything is written; an earlier report is replaced, and reruns add no duplicates."""
    out = tmp_path / "o"
    cutout = out / f"{PHOTOS[0].stem}.png"
    with pytest.raises(SystemExit, match="the batch writes the png output of"):
        _predict(trained_model, PHOTOS[0], "--out", out, "--report", cutout)
    with pytest.raises(SystemExit, match="CarMask's record of an output folder"):
        _predict(trained_model, PHOTOS[0], "--out", out, "--report", out / MANIFEST_NAME)
    assert not out.exists()

    report = out / "report.jsonl"
    for _ in range(2):  # the second run replaces its own earlier report
        assert _predict(trained_model, PHOTOS[0], "--out", out, "--report", report) == 0
        assert json.loads(report.read_text())["status"] == "done"
        assert sorted(p.name for p in out.iterdir()) == sorted(
            [MANIFEST_NAME, cutout.name, report.name]
        )
        assert Image.open(cutout).mode == "RGBA"


def test_a_report_into_a_missing_folder_is_written_and_a_blocked_one_is_refused_first(
    trained_model, tmp_path, capsys
):
    """Item 2: the report's folder is made with the outputs; a report whose folder cannot be
    made stops the batch before a photo is read, not after it with rc 0."""
    report = tmp_path / "reports" / "monday" / "report.jsonl"
    assert _predict(trained_model, PHOTOS[0], "--out", tmp_path / "o", "--report", report) == 0
    assert json.loads(report.read_text())["status"] == "done"

    blocker = tmp_path / "reports.txt"
    blocker.write_text("a file where the report's folder would be")
    with pytest.raises(SystemExit, match="is a file, not a folder"):
        _predict(
            trained_model, PHOTOS[0], "--out", tmp_path / "o2", "--report", blocker / "r.jsonl"
        )
    assert not (tmp_path / "o2").exists()


def _camera(folder: Path, photos: list[Path]) -> dict[str, Path]:
    """The photos copied in as a camera names them (IMG_0001.jpg, ...), by their pixels' digest."""
    folder.mkdir()
    named = {}
    for i, photo in enumerate(photos, 1):
        path = folder / f"IMG_{i:04d}.jpg"
        shutil.copy(photo, path)
        named[_pixels(read_photo(path).rgb)] = path
    return named


def _pixels(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def _photo_shown(rgba: np.ndarray, photos: dict[str, np.ndarray]) -> str:
    """The digest of the one photo whose pixels the cutout holds (away from its soft,
    decontaminated edge: `cutout_checks.assert_cutout_of`)."""
    found = []
    for digest, rgb in photos.items():
        try:
            assert_cutout_of(rgba, rgb)
        except (AssertionError, IndexError, ValueError):
            continue
        found.append(digest)
    assert len(found) == 1, found
    return found[0]


def test_two_batches_at_once_into_one_folder_keep_every_photos_cutout(trained_model, tmp_path):
    """Item 3: two cameras' IMG_0001... (other cars), two `carmask predict` processes started
    together into one --out: each photo's cutout is there exactly once, holding that photo's
    pixels, and the record names the right photo for it."""
    a = _camera(tmp_path / "camera_a", PHOTOS)
    b = _camera(tmp_path / "camera_b", sorted((CARVANA / "train").glob("*.jpg"))[: len(PHOTOS)])
    photos = {**a, **b}
    assert len(photos) == 2 * len(PHOTOS)  # other cars: no two photos have the same pixels
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "engine.cli", "predict", "--out", str(out), "-q"]
    cli += ["--model", str(trained_model), "--device", "cpu"]
    runs = [
        subprocess.Popen(
            [*cli, str(tmp_path / camera)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for camera in ("camera_a", "camera_b")
    ]
    for run in runs:
        said = run.communicate(timeout=300)[0]
        assert run.returncode == 0, said
        assert f"done: {len(PHOTOS)}, failed: 0" in said

    rgbs = {digest: read_photo(path).rgb for digest, path in photos.items()}
    cutouts = {p.name: _photo_shown(np.asarray(Image.open(p)), rgbs) for p in out.glob("*.png")}
    assert sorted(cutouts.values()) == sorted(photos)  # every photo once, none lost or doubled
    for e in _outputs(out / MANIFEST_NAME):  # the record: each file from the photo it shows
        assert Path(e["from"]) == photos[cutouts[e["name"]]]


def test_a_cutout_retouched_in_the_shoot_folder_is_not_cut_out_again(
    trained_model, tmp_path, capsys
):
    """Item 12: A.jpg cut out into its own folder, A.png retouched by hand; the next run leaves
    A.png alone, says why, and makes no A_png.png."""
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    shutil.copy(PHOTOS[0], shoot / "A.jpg")
    assert _predict(trained_model, shoot, "--out", shoot) == 0
    retouched = np.asarray(Image.open(shoot / "A.png")).copy()
    retouched[:40, :, 3] = 0  # a stroke of the eraser
    Image.fromarray(retouched).save(shoot / "A.png")
    before = (shoot / "A.png").read_bytes()
    capsys.readouterr()

    assert _predict(trained_model, shoot, "--out", shoot) == 0
    said = capsys.readouterr().out
    assert "done: 1, failed: 0, skipped: 1" in said
    assert f"skipped: {shoot / 'A.png'}: CarMask's output of A.jpg, changed since" in said
    assert not (shoot / "A_png.png").exists()
    assert (shoot / "A.png").read_bytes() == before


def _strict(model: Path, tmp_path: Path) -> Path:
    """The tiny model with its threshold at 0.999999: it finds no car in the photos."""
    from engine.modelfiles.header import header_digest

    def edit(h):
        h["threshold"] = 0.999999
        h["digest"] = header_digest(h)

    return rewrite_header(model, tmp_path / "strict.safetensors", edit)


def test_an_empty_cutout_is_noted_without_a_report(trained_model, tmp_path, capsys):
    """Item 12: a photo the model finds no car in gives an empty cutout, and the run says so."""
    assert _predict(_strict(trained_model, tmp_path), PHOTOS[0], "--out", tmp_path / "o") == 0
    assert f"note: {PHOTOS[0]}: no car found: the cutout is empty" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "o" / f"{PHOTOS[0].stem}.png"))[..., 3].max() == 0
    assert _predict(trained_model, PHOTOS[0], "--out", tmp_path / "o2") == 0
    assert "no car found" not in capsys.readouterr().out  # a cutout with its car: no note


def test_the_reports_confidence_is_that_of_the_cutout_at_the_models_threshold(
    trained_model, tmp_path
):
    """Item 12: the report scores the cutout written (the model's threshold, 0.999999: empty),
    not the probability map at 0.5 (where there is a car)."""
    report = tmp_path / "report.jsonl"
    strict = _strict(trained_model, tmp_path)
    assert _predict(strict, PHOTOS[0], "--out", tmp_path / "o", "--report", report) == 0
    row = json.loads(report.read_text())
    assert row["confidence"] == 0 and row["reasons"] == ["no car found"]
    assert _predict(trained_model, PHOTOS[0], "--out", tmp_path / "o2", "--report", report) == 0
    row = json.loads(report.read_text())
    assert row["confidence"] > 0 and "no car found" not in row["reasons"]
