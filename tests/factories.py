"""Factories for the tests' tiny training runs: one base configuration on the real downscaled
Carvana photos of tests/data, changed per test by keyword (as segmentation_models_pytorch's
shared test base does). Importable as `factories` from any test (tests/ is on the path through
its conftest)."""

from __future__ import annotations

import json
import time
from pathlib import Path

DATA = Path(__file__).parent / "data"
CARVANA = DATA / "carvana"

# a small ResNet-18 U-Net (no ImageNet weights: tests never download)
TINY_ARCH = dict(encoder="resnet18", join="add", decoder_widths=(32, 16, 16, 8, 8), middle_width=32)


def train_settings(out: Path | str, **overrides) -> dict:
    """`TrainConfig` fields of a tiny CPU run on the 8 train / 8 val photos (JSON-ready); the
    keywords replace or add fields."""
    settings: dict = dict(
        data=str(CARVANA / "train"),
        val_data=str(CARVANA / "val"),
        out=str(out),
        arch={**TINY_ARCH, "decoder_widths": list(TINY_ARCH["decoder_widths"])},
        input_size=[96, 144],
        epochs=4,
        batch_size=4,
        lr=0.01,
        optimizer="adam",
        schedule="constant",
        pretrained=None,
        device="cpu",
        seed=0,
    )
    settings.update(overrides)
    return settings


def train_config(out: Path | str, **overrides):
    """The `TrainConfig` of `train_settings(out, **overrides)`."""
    from engine.training.config import TrainConfig

    return TrainConfig(**train_settings(out, **overrides))


def copy_in_chunks(src: Path, dst: Path, chunks: int = 6, pause: float = 0.25) -> float:
    """As a card reader or a slow network copy does: the file grows a chunk at a time. Returns
    when the last chunk was written (time.monotonic)."""
    data = src.read_bytes()
    step = len(data) // chunks + 1
    with open(dst, "wb") as f:
        for i in range(0, len(data), step):
            time.sleep(pause)
            f.write(data[i : i + step])
            f.flush()
            last = time.monotonic()
    return last


def rewrite_header(src: Path, dst: Path, edit) -> Path:
    """A copy of model file `src` at `dst` with its CarMask header changed by `edit(header)`
    (the weights as they are; the header's digest is not made right unless `edit` does it)."""
    from safetensors.numpy import load_file, save_file

    with open(src, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    header = json.loads(meta["carmask"])
    edit(header)
    save_file(load_file(src), dst, metadata={"carmask": json.dumps(header)})
    return dst


def queue_a_touched_up_photo(qtbot, window, name: str = "1a17a1bd648b_14"):
    """Queue one real photo in the window, segmented (an empty model mask) then touched up by
    hand (its true mask): a correction the fine-tuning wizard can learn from."""
    import numpy as np
    from PIL import Image

    from app.session import DONE

    window.add_paths([str(CARVANA / "val" / f"{name}.jpg")])
    qtbot.waitUntil(lambda: len(window.session.photos) == 1, timeout=10000)
    photo = next(iter(window.session.photos.values()))
    window.session.write_model_mask(photo, np.zeros((320, 480), bool))
    window.session.set_status(photo, DONE)
    fixed = np.asarray(Image.open(CARVANA / "val_masks" / f"{name}_mask.gif")) > 0
    window.session.save_touchup(photo, fixed)
    return photo


def open_finetune_setup(qtbot, window, folder: Path, corrections: bool = False):
    """The fine-tuning wizard opened on `folder`'s labelled photos (corrections ticked or not),
    scanned and moved on to its setup page, once that page lists the base models."""
    wizard = window.open_finetune()
    data = wizard.data_page
    data.use_corrections.setChecked(corrections)  # off unless the operator ticks it
    data.folder_edit.setText(str(folder))
    data.scan(str(folder))
    qtbot.waitUntil(lambda: data.isComplete(), timeout=60000)
    wizard.next()
    setup = wizard.setup_page
    qtbot.waitUntil(lambda: setup.base.count() > 0, timeout=30000)
    return setup
