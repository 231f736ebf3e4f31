"""`carmask predict` run again on the same folder: what is done is not done again (issue 31).

Real photos, the tiny trained model, the real CLI; the output folder's one ledger
(`engine.batch.manifest`) says what is done."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine.batch.outputs import MANIFEST_NAME
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = sorted((ROOT / "tests" / "data" / "carvana" / "val").glob("*.jpg"))


def _predict(model, *args) -> int:
    return main(["predict", *map(str, args), "--model", str(model), "--device", "cpu", "-q"])


def _stats(folder: Path) -> dict[str, tuple[int, int]]:
    """Each output's inode and modification time: a file written again (atomically) has a new
    inode."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.iterdir()
        if p.name != MANIFEST_NAME
    }


def test_a_rerun_skips_the_photos_already_done_and_redoes_a_changed_one(
    trained_model, tmp_path, capsys
):
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    for photo in PHOTOS[:3]:
        shutil.copy(photo, shoot / photo.name)
    args = (shoot, "--out", out, "--format", "png", "--format", "mask")

    assert _predict(trained_model, *args) == 0
    assert "done: 3, failed: 0" in capsys.readouterr().out
    first = _stats(out)
    assert len(first) == 6

    assert _predict(trained_model, *args) == 0
    said = capsys.readouterr().out
    assert "done: 3, failed: 0" in said and "already done: 3" in said
    assert _stats(out) == first  # not one output written again

    changed = shoot / PHOTOS[0].name
    shutil.copy(PHOTOS[3], changed)  # another photo under the same name
    os.utime(changed, ns=(1, 1))  # even with an old time: its bytes say it changed
    assert _predict(trained_model, *args) == 0
    said = capsys.readouterr().out
    assert "done: 3, failed: 0" in said and "already done: 2" in said
    now = _stats(out)
    redone = {f"{changed.stem}.png", f"{changed.stem}_mask.png"}
    assert {n for n in now if now[n] != first[n]} == redone
    lines = [json.loads(t) for t in (out / MANIFEST_NAME).read_text().splitlines()]
    photo_lines = [e for e in lines if "status" in e]
    assert [e["status"] for e in photo_lines] == ["done"] * 4  # the changed photo twice
    assert photo_lines[-1]["photo"] == str(changed)


def test_other_formats_on_a_rerun_do_the_photos_again(trained_model, tmp_path, capsys):
    """The ledger's line holds the export options: asking for the mask too redoes the photo."""
    out = tmp_path / "out"
    assert _predict(trained_model, PHOTOS[0], "--out", out) == 0
    capsys.readouterr()
    assert (
        _predict(trained_model, PHOTOS[0], "--out", out, "--format", "png", "--format", "mask") == 0
    )
    said = capsys.readouterr().out
    assert "done: 1, failed: 0" in said and "already done" not in said
    assert (out / f"{PHOTOS[0].stem}_mask.png").is_file()
