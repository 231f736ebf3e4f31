"""The fine-tuning wizard end to end on real photos (offscreen, pytest-qt): bad pairs are
reported, a short training runs in a child process with its events reaching the charts, Stop
leaves a loadable model, and Finish puts the model into the library where the window uses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from factories import open_finetune_setup, queue_a_touched_up_photo
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from app.session import DONE, TOUCHED
from app.window import MY_ENSEMBLE
from engine.modelfiles.checkpoint import load_model, read_header

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


@pytest.fixture
def studio(tmp_path, monkeypatch, tiny_library):
    """A studio's labelled photos (4 real cars, Kaggle layout) with four bad entries, and a
    library holding the model to start from."""
    monkeypatch.setenv("CARMASK_DATA", str(tmp_path / "data-home"))  # run folders go here
    labelled = tmp_path / "labelled"
    photos, masks = labelled / "train", labelled / "train_masks"
    masks.mkdir(parents=True)
    photos.mkdir()
    for split in ("train", "val"):
        for f in sorted((CARVANA / split).glob("*.jpg")):
            shutil.copy(f, photos / f.name)
            mask = CARVANA / f"{split}_masks" / f"{f.stem}_mask.gif"
            shutil.copy(mask, masks / mask.name)
    shutil.copy(photos / "00087a6bd4dc_01.jpg", photos / "lonely_01.jpg")  # no mask
    Image.open(masks / "0495dcf27283_02_mask.gif").resize((100, 60)).save(
        masks / "0495dcf27283_02_mask.gif"
    )  # mask of the wrong size
    data = (photos / "0ed6904e1004_04.jpg").read_bytes()
    (photos / "0ed6904e1004_04.jpg").write_bytes(data[: len(data) // 3])  # truncated photo
    shutil.copy(masks / "00087a6bd4dc_01_mask.gif", masks / "ghost_01_mask.gif")  # no photo
    return labelled


def _to_training(qtbot, window, folder: Path, epochs: int, corrections: bool = False):
    setup = open_finetune_setup(qtbot, window, folder, corrections)
    wizard = setup.wizard()
    assert "tiny" in setup.base.currentText()
    setup.epochs.setValue(epochs)
    setup.batch.setValue(4)
    setup.val_share.setValue(25)
    setup.device.setCurrentText("cpu")
    qtbot.waitUntil(lambda: f"of {epochs} epochs" in setup.estimate_label.text(), timeout=60000)
    # more epochs: a new estimate from the times already measured (no second measurement)
    measured = dict(setup._timings)
    setup.epochs.setValue(epochs + 1)
    qtbot.waitUntil(lambda: f"of {epochs + 1} epochs" in setup.estimate_label.text(), timeout=5000)
    assert setup._timings == measured
    setup.epochs.setValue(epochs)
    qtbot.waitUntil(lambda: f"of {epochs} epochs" in setup.estimate_label.text(), timeout=5000)
    assert setup.isComplete()
    wizard.next()  # the commit page: training starts
    assert wizard.currentPage() is wizard.training_page
    return wizard


def test_wizard_reports_bad_pairs_trains_and_installs(
    qtbot, open_window, tmp_path, studio, ui_ticks
):
    window = open_window()
    wizard = window.open_finetune()
    data = wizard.data_page
    data.scan(str(studio))
    qtbot.waitUntil(lambda: not data.scanning, timeout=60000)
    problems = sorted(data.problems.item(i).text() for i in range(data.problems.count()))
    assert len(problems) == 4
    assert problems[0].startswith("0495dcf27283_02_mask.gif: mask is 100×60 but the photo is")
    assert problems[1].startswith("0ed6904e1004_04.jpg: unreadable photo")
    assert problems[2] == "ghost_01_mask.gif: mask without a photo"
    assert problems[3] == "lonely_01.jpg: no mask found for this photo"
    assert len(data.pairs()) == 13 and len({p.car for p in data.pairs()}) == 4
    assert "13 photo/mask pairs of 4 cars" in data.status.text()
    wizard.close()
    qtbot.waitUntil(lambda: window.finetune_wizard is None, timeout=5000)

    wizard = _to_training(qtbot, window, studio, epochs=2)
    ui_ticks.start()
    training = wizard.training_page
    qtbot.waitUntil(lambda: training.outcome != "", timeout=180000)
    assert max(ui_ticks.gaps()) < 0.5, "the window stopped answering during training"
    assert training.outcome == "done", training.info.text()
    kinds = [e["event"] for e in training.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert training.loss_chart.count() == kinds.count("step") > 0
    assert training.dice_chart.count() == 2  # one validation Dice per epoch
    assert training.bar.value() == training.bar.maximum()
    # the run's cache is cleaned up (on the pool)
    qtbot.waitUntil(lambda: not (training.run_dir / "cache").exists(), timeout=10000)
    assert training.run_dir.is_relative_to(tmp_path / "data-home")  # not the user's data
    assert wizard.button(wizard.WizardButton.NextButton).isEnabled()

    wizard.next()
    result = wizard.result_page
    qtbot.waitUntil(lambda: result.comparison is not None, timeout=120000)
    comparison = result.comparison
    assert len(comparison.pairs) == len(training.val_pairs) > 0
    assert {p.car for p in comparison.pairs}.isdisjoint({p.car for p in training.train_pairs})
    assert len(comparison.examples) == min(3, len(comparison.pairs))
    assert "held-out photos" in result.summary.text()
    result.name.setText("Studio test")
    result.use_buttons["default"].setChecked(True)
    wizard.button(wizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: window.finetune_wizard is None, timeout=30000)

    installed = Path(window.settings.model)
    assert installed.parent == Path(tmp_path / "library") and installed.is_file()
    assert read_header(installed).name == "Studio test"
    assert window.model_paths() == [installed]
    assert "Studio test" in window.model_combo.currentText()

    # the main window segments with it
    window.add_paths([str(CARVANA / "val" / "1a17a1bd648b_07.jpg")])
    qtbot.waitUntil(lambda: len(window.session.photos) == 1, timeout=10000)
    window.acts.start.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=120000)
    photo = next(iter(window.session.photos.values()))
    assert photo.status == DONE and "Studio test" in photo.model
    assert 0.05 < window.session.mask(photo).mean() < 0.6


def test_stop_keeps_a_loadable_model_and_corrections_are_used(
    qtbot, open_window, studio, monkeypatch
):
    window = open_window()
    # a touched-up photo in the queue joins the training data as a correction
    photo = queue_a_touched_up_photo(qtbot, window)
    assert photo.status == TOUCHED

    wizard = window.open_finetune()
    assert not wizard.data_page.use_corrections.isChecked()  # off until ticked
    wizard.close()
    qtbot.waitUntil(lambda: window.finetune_wizard is None, timeout=5000)
    wizard = _to_training(qtbot, window, studio, epochs=300, corrections=True)
    assert len(wizard.data_page.pairs()) == 14
    training = wizard.training_page
    qtbot.waitUntil(lambda: training.loss_chart.count() >= 2, timeout=120000)
    assert training.running
    # quitting the app while a model trains asks first; "No" keeps both running
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No
    )
    window.close()
    assert asked and window.isVisible() and training.running
    training.stop_button.click()
    qtbot.waitUntil(lambda: training.outcome != "", timeout=120000)
    assert training.outcome == "cancelled", training.info.text()
    assert not training.running
    assert training.left.text() == ""  # no "time left" once it stopped
    _model, header = load_model(training.model_path)
    assert header.training["epochs_done"] < 300 and header.metrics["val_photos"] > 0
    assert wizard.button(wizard.WizardButton.NextButton).isEnabled()
    wizard.reject()  # closing after training: no question
    qtbot.waitUntil(lambda: window.finetune_wizard is None, timeout=5000)
    assert training.model_path.is_file()  # the run folder keeps the model


def test_adding_to_the_ensemble(qtbot, open_window, tiny_library, trained_model):
    window = open_window()
    library = tiny_library
    new = library / "new.safetensors"
    shutil.copy(trained_model, new)
    window._model_installed(str(new), "ensemble")
    assert window.settings.model == MY_ENSEMBLE
    assert window.model_paths() == [library / "tiny.safetensors", new]
    assert window.model_combo.currentText() == "My ensemble (2 models)"
