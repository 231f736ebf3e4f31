"""The batch manifest and the cluster's resource plan: plain functions, no Ray needed."""

from __future__ import annotations

import pytest

from engine.batch.manifest import MANIFEST_FILE, Entry, Manifest, file_digest, model_digest
from engine.cluster.run import blocks, plan_resources


def _entry(photo, digest="sha256:a", status="done", outputs=None) -> Entry:
    return Entry(str(photo), digest, "sha256:m", "png;bg=ffffff", status, outputs or {})


def test_a_photo_counts_as_done_only_with_its_digests_options_and_outputs(tmp_path):
    out = tmp_path / "out"
    photo = tmp_path / "car.jpg"
    m = Manifest(out)
    m.record(_entry(photo, outputs={"png": "car.png"}))
    (out / "car.png").write_bytes(b"png")
    again = Manifest(out)  # as a rerun reads it
    assert again.is_done(photo, "sha256:a", "sha256:m", "png;bg=ffffff")
    assert not again.is_done(photo, "sha256:b", "sha256:m", "png;bg=ffffff")  # the photo changed
    assert not again.is_done(photo, "sha256:a", "sha256:other", "png;bg=ffffff")  # other model
    assert not again.is_done(photo, "sha256:a", "sha256:m", "mask+png;bg=ffffff")  # formats
    (out / "car.png").unlink()
    assert again.expected_digest(photo, "sha256:m", "png;bg=ffffff") == ""  # an output lost


def test_the_last_line_wins_and_a_line_cut_short_is_ignored(tmp_path):
    photo = tmp_path / "car.jpg"
    m = Manifest(tmp_path)
    m.record(_entry(photo))
    m.record(_entry(photo, status="failed"))
    with open(tmp_path / MANIFEST_FILE, "a") as f:
        f.write('{"photo": "x", "dig')  # a crash in the middle of a line
    again = Manifest(tmp_path)
    assert list(again.entries) == [str(photo)]
    assert again.entries[str(photo)].status == "failed"
    assert not again.is_done(photo, "sha256:a", "sha256:m", "png;bg=ffffff")


def test_model_digest_covers_the_files_and_the_settings(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(b"model a")
    b.write_bytes(b"model b")
    base = model_digest([a], tta=False, vote="majority")
    assert base == model_digest([a], vote="majority", tta=False)
    assert base != model_digest([a], tta=True, vote="majority")
    assert base != model_digest([a, b], tta=False, vote="majority")
    assert file_digest(a) != file_digest(b)


@pytest.mark.parametrize(
    ("cluster", "nodes", "workers", "cpus", "device", "plan"),
    [
        ({"CPU": 2}, [2], None, None, "auto", (1, 1.0, 0.0)),  # one actor, one CPU left to read
        ({"CPU": 2}, [2], 2, None, "auto", (2, 0.5, 0.0)),
        ({"CPU": 64, "GPU": 8}, [32, 32], None, None, "auto", (8, 1.0, 1.0)),  # one per GPU
        ({"CPU": 64, "GPU": 8}, [32, 32], 16, None, "auto", (16, 1.0, 0.5)),  # two share a GPU
        ({"CPU": 64, "GPU": 8}, [32, 32], 4, 2.0, "auto", (4, 2.0, 1.0)),
        ({"CPU": 16, "GPU": 2}, [16], None, None, "cpu", (1, 15.0, 0.0)),  # --device cpu
        ({"CPU": 48}, [16, 16, 16], None, None, "auto", (3, 15.0, 0.0)),  # one per node
        ({"CPU": 48}, [16, 16, 16], 2, None, "auto", (2, 15.0, 0.0)),  # never above a node
        ({"CPU": 48}, [16, 16, 16], 9, None, "auto", (9, 5.0, 0.0)),
    ],
)
def test_resources_per_actor(cluster, nodes, workers, cpus, device, plan):
    assert plan_resources(cluster, nodes, workers, cpus, device) == plan


def test_blocks_share_the_cost_per_task_but_feed_every_worker():
    assert blocks(16, 1, 4) == 4
    assert blocks(16, 4, 4) == 8  # two per worker
    assert blocks(3, 4, 4) == 3  # never an empty block
    assert blocks(10000, 8, 4) == 2500
    assert blocks(5, 1, 1) == 5


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\x85"])
def test_a_photo_whose_name_holds_a_unicode_line_break_still_counts_as_done(tmp_path, odd):
    """Names are written as UTF-8 as they are: only "\\n" ends a line of the ledger."""
    photo = tmp_path / f"car{odd}1.jpg"
    m = Manifest(tmp_path)
    m.record(_entry(photo, outputs={"png": "car.png"}))
    (tmp_path / "car.png").write_bytes(b"png")
    assert Manifest(tmp_path).is_done(photo, "sha256:a", "sha256:m", "png;bg=ffffff")


def test_photos_done_by_the_version_before_the_one_ledger_are_not_done_again(tmp_path):
    """--ray and watch kept their photo lines in .carmask-manifest.jsonl until the ledger was
    merged: an upgrade reads them, and new lines go to the one ledger."""
    photo = tmp_path / "car.jpg"
    (tmp_path / "car.png").write_bytes(b"png")
    old = tmp_path / ".carmask-manifest.jsonl"
    old.write_text(_entry(photo, outputs={"png": "car.png"}).to_json() + "\n", encoding="utf-8")
    m = Manifest(tmp_path)
    assert m.is_done(photo, "sha256:a", "sha256:m", "png;bg=ffffff")
    m.record(_entry(photo, status="failed"))
    assert old.read_text(encoding="utf-8").count("\n") == 1  # the old file is only read
    assert not Manifest(tmp_path).is_done(photo, "sha256:a", "sha256:m", "png;bg=ffffff")
