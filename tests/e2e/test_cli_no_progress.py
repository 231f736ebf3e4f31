"""A batch that makes no progress says so, naming the photo it waits on, and goes on."""

from __future__ import annotations

from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "cpu-lite0-448x672-any-studio.safetensors"
PHOTO = ROOT / "tests" / "data" / "web-cars" / "images" / "rf_valid_Carro_23.jpg"


def test_a_photo_taking_longer_than_the_patience_is_named_and_the_batch_finishes(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("CARMASK_STALL_SECONDS", "0.02")  # any real photo takes longer
    args = [str(PHOTO), "--model", str(MODEL), "--backend", "torch", "--format", "mask", "-q"]
    assert main(["predict", *args, "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    stalled = [line for line in captured.err.splitlines() if line.startswith("no progress:")]
    assert stalled, captured.err
    assert f"still waiting on {PHOTO}" in stalled[0]
    assert "done: 1, failed: 0" in captured.out
    assert (tmp_path / "out" / f"{PHOTO.stem}_mask.png").is_file()
