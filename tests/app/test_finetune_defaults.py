"""The fine-tuning wizard's defaults protect the operator (offscreen, real window and photos):
photos and masks in sibling folders are found, corrections are learnt from only when ticked,
and the new model is offered as the default only when it scored better."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from factories import queue_a_touched_up_photo
from PIL import Image

from app.finetune.result_page import ResultPage
from app.session import TOUCHED
from engine.training.pairs import find_pairs

CARVANA = Path(__file__).parents[1] / "data" / "carvana"
SHIPPED = Path(__file__).parents[2] / "resources" / "models" / "cpu-lite0-256x384.safetensors"


def _shoot(root: Path, masks_name: str) -> tuple[Path, Path]:
    """A shoot's photos in `root/shoot` and their masks (PNG, same names) in `root/<masks_name>`."""
    shoot, gt = root / "shoot", root / masks_name
    shoot.mkdir(parents=True)
    gt.mkdir(parents=True)
    for split in ("train", "val"):
        for f in sorted((CARVANA / split).glob("*.jpg")):
            shutil.copy(f, shoot / f.name)
            mask = Image.open(CARVANA / f"{split}_masks" / f"{f.stem}_mask.gif").convert("L")
            mask.save(gt / f"{f.stem}.png")
    return shoot, gt


def test_the_wizard_finds_masks_in_a_sibling_gt_folder(qtbot, open_window, tmp_path):
    shoot, _gt = _shoot(tmp_path / "studio", "shoot_gt")
    window = open_window()
    data = window.open_finetune().data_page
    data.folder_edit.setText(str(shoot))
    data.scan(str(shoot))
    qtbot.waitUntil(lambda: not data.scanning, timeout=60000)
    assert len(data.pairs()) == 15 and not data.report.problems
    assert data.isComplete()
    # pointing at the folder above both: the gt folder holds masks, not photos
    assert len(find_pairs(tmp_path / "studio").pairs) == 15


def test_the_wizard_reads_masks_from_any_folder_the_user_points_at(qtbot, open_window, tmp_path):
    shoot, gt = _shoot(tmp_path / "studio", "retouch/alpha")
    Image.new("L", (10, 10)).save(gt / "stray.png")  # a mask of no photo is named
    window = open_window()
    data = window.open_finetune().data_page
    data.folder_edit.setText(str(shoot))
    data.masks_edit.setText(str(gt))
    data.scan(str(shoot))
    qtbot.waitUntil(lambda: not data.scanning, timeout=60000)
    assert len(data.pairs()) == 15
    assert [(p.name, why) for p, why in data.report.problems] == [
        ("stray.png", "mask without a photo")
    ]


def test_corrections_are_learnt_from_only_when_ticked_and_are_named(qtbot, open_window):
    window = open_window()
    photo = queue_a_touched_up_photo(qtbot, window)
    assert photo.status == TOUCHED

    data = window.open_finetune().data_page
    assert data.use_corrections.isEnabled() and not data.use_corrections.isChecked()
    assert data.pairs() == []  # a stray stroke is no training data unless asked for
    assert data.corrections_list.isVisible()
    assert "1a17a1bd648b_14.jpg" in data.corrections_list.text()
    data.use_corrections.setChecked(True)
    assert [p.image.name for p in data.pairs()] == ["1a17a1bd648b_14.jpg"]


@pytest.fixture(scope="module")
def held_out():
    return find_pairs(CARVANA / "val").pairs[:2]


@pytest.mark.parametrize("new_is_better", [True, False])
def test_my_default_model_is_offered_only_when_the_new_model_scored_better(
    qtbot, trained_model, held_out, new_is_better
):
    from engine.training.finetune import compare

    models = [trained_model, SHIPPED] if new_is_better else [SHIPPED, trained_model]
    comparison = compare(models, held_out, "cpu", examples=1, preview_width=120)
    assert (comparison.mean(1) > comparison.mean(0)) == new_is_better
    page = ResultPage()
    qtbot.addWidget(page)
    page._compared(comparison)
    assert page.use_buttons["default"].isChecked() == new_is_better
    assert page.use == ("default" if new_is_better else "library")
    said = "not better than the base model" in page.summary.text()
    assert said == (not new_is_better)
