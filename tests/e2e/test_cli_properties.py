"""Property test (hypothesis) of `carmask predict` over file names and output-folder placements:
whatever the names (unicode, spaces, leading dashes, long names, one stem with several
extensions, links) and wherever the output folder is (the shoot itself, inside it, above it,
elsewhere), no input changes, every file is either cut out or reported, and every output is a
valid image of its photo's size. Real small photos, the real tiny model, real files."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.batch.outputs import MANIFEST_NAME
from engine.cli import main

PHOTO = sorted((Path(__file__).parents[1] / "data" / "carvana" / "val").glob("*.jpg"))[0]
EXTS = [".jpg", ".JPG", ".png", ".jpeg", ".tif", ".webp"]

_char = st.characters(
    blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="/\\\x00", max_codepoint=0x2FFF
)
stems = st.one_of(
    st.text(_char, min_size=1, max_size=24),
    st.sampled_from(["car", "-car", " car ", "car_mask", "Car", "a" * 240, "--out", "ünïcødé 车"]),
).filter(lambda s: s not in (".", "..") and len(s.encode()) <= 240)
files = st.lists(st.tuples(stems, st.sampled_from(EXTS)), min_size=1, max_size=6)
places = st.sampled_from(["shoot", "shoot/out", "parent", "elsewhere"])


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=files, place=places, link=st.booleans())
def test_no_input_changes_and_every_file_is_accounted_for(
    trained_model, capsys, names, place, link
):
    small = Image.open(PHOTO).resize((144, 96))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shoot = root / "shoot"
        shoot.mkdir()
        made: list[Path] = []
        for i, (stem, ext) in enumerate(names):
            path = shoot / f"{stem}{ext}"
            if path.exists() or path.name.startswith("."):
                continue
            fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".webp": "WEBP"}
            small.rotate(i * 7).save(path, fmt[ext.lower()])
            made.append(path)
        if link and made:
            (shoot / "link to first.jpg").symlink_to(made[0])
            made.append(shoot / "link to first.jpg")
        before = {p: _digest(p) for p in made}
        out = {"shoot": shoot, "shoot/out": shoot / "out", "parent": root, "elsewhere": root / "o"}

        code = main(
            ["predict", str(shoot), "--out", str(out[place]), "--model", str(trained_model),
             "--format", "png", "--format", "mask", "--format", "jpg", "-q"]
        )  # fmt: skip

        assert code in (0, 1)
        assert {p: _digest(p) for p in made} == before  # no input changed
        record = out[place] / MANIFEST_NAME
        text = record.read_text(encoding="utf-8") if record.exists() else ""
        lines = [json.loads(x) for x in text.split("\n") if x]  # names may hold U+2028
        lines = [e for e in lines if "name" in e]  # the files written (not the names claimed)
        done = {e["from"] for e in lines}
        for e in lines:  # every output is a valid image of its photo's size
            with Image.open(out[place] / e["name"]) as im:
                assert im.size == (144, 96)
                im.load()
        for e in lines:
            if e["name"].endswith("_mask.png"):
                assert 0 < np.asarray(Image.open(out[place] / e["name"])).max() <= 255
        # every file made is done, or reported by name (skipped or failed)
        text = capsys.readouterr().out
        for p in made:
            reported = f"  skipped: {p}: " in text or f"  failed: {p}: " in text
            assert str(p) in done or reported, (p, text)
