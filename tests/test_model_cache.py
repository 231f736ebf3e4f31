"""The tests' tiny model is trained once per machine and reused; a damaged cache entry is never
trusted (real model files, a real cache folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

from factories import CARVANA, rewrite_header, train_settings
from model_cache import cache_key, cached_model

from engine.modelfiles.checkpoint import load_model


def copying(model: Path, builds: list[Path]):
    """A build that copies a real trained model (instead of training one) and counts its calls."""

    def build(out: Path) -> None:
        builds.append(out)
        shutil.copy(model, out)

    return build


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_the_tiny_model_is_built_once_then_reused_from_the_cache(tmp_path, trained_model):
    builds: list[Path] = []
    first = cached_model("k" * 64, copying(trained_model, builds), cache=tmp_path)
    again = cached_model("k" * 64, copying(trained_model, builds), cache=tmp_path)
    assert again == first and len(builds) == 1
    assert first.read_bytes() == trained_model.read_bytes()
    kept = sorted(p.name for p in tmp_path.iterdir())  # no work folder left behind
    assert kept == sorted([first.name, f"{first.stem}.sha256"])


def test_a_cached_model_whose_bytes_were_changed_is_rebuilt_not_trusted(tmp_path, trained_model):
    builds: list[Path] = []
    entry = cached_model("k" * 64, copying(trained_model, builds), cache=tmp_path)
    flip_byte(entry, entry.stat().st_size - 3)  # one weight's byte
    assert cached_model("k" * 64, copying(trained_model, builds), cache=tmp_path) == entry
    assert len(builds) == 2
    assert entry.read_bytes() == trained_model.read_bytes()
    load_model(entry)


def test_a_cached_model_that_fails_its_own_checksum_is_rebuilt(tmp_path, trained_model):
    """Even with a matching recorded digest (a model altered before it was cached), the entry
    must load through the engine's checked loader."""
    builds: list[Path] = []
    bad = rewrite_header(trained_model, tmp_path / "bad.safetensors", lambda h: h.update(name="x"))
    cache = tmp_path / "cache"
    entry = cached_model("k" * 64, copying(bad, builds), cache=cache)
    assert cached_model("k" * 64, copying(trained_model, builds), cache=cache) == entry
    assert len(builds) == 2 and entry.read_bytes() == trained_model.read_bytes()


def test_the_cache_key_changes_with_the_settings_and_with_any_input_byte(tmp_path):
    photos = tmp_path / "carvana"
    shutil.copytree(CARVANA, photos)
    settings = train_settings(tmp_path / "a.safetensors")
    key = cache_key(settings, [photos])
    assert cache_key(train_settings(tmp_path / "elsewhere.safetensors"), [photos]) == key
    assert cache_key({**settings, "epochs": 5}, [photos]) != key
    flip_byte(next((photos / "train").iterdir()), 100)
    assert cache_key(settings, [photos]) != key
