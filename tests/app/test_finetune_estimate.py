"""The fine-tuning wizard says what it does while it waits (issue 32, part 3): the time estimate
shows its progress and can be skipped; the loss chart draws from the first step. Real window,
real photos, the real tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from factories import open_finetune_setup
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QColor

from app.finetune.charts import LiveChart
from app.finetune.setup_page import SKIPPED
from engine.training.finetune import MEASURE_STAGES

CARVANA = Path(__file__).parents[1] / "data" / "carvana"


def _setup_page(qtbot, window):
    setup = open_finetune_setup(qtbot, window, CARVANA)
    setup.device.setCurrentText("cpu")
    return setup


def test_the_time_estimate_shows_its_progress(qtbot, open_window, tiny_library):
    window = open_window()
    setup = _setup_page(qtbot, window)
    stages: list[int] = []
    setup.measure_bar.valueChanged.connect(stages.append)
    qtbot.waitUntil(lambda: setup.measure_bar.isVisible(), timeout=10000)
    assert setup.skip_button.isVisible()
    qtbot.waitUntil(lambda: "epochs" in setup.estimate_label.text(), timeout=120000)
    assert set(range(1, MEASURE_STAGES + 1)) <= set(stages)
    assert setup.measure_bar.maximum() == MEASURE_STAGES
    assert not setup.measure_bar.isVisible() and not setup.skip_button.isVisible()


def test_the_time_estimate_can_be_skipped(qtbot, open_window, tiny_library):
    window = open_window()
    setup = _setup_page(qtbot, window)
    qtbot.waitUntil(lambda: setup.skip_button.isVisible(), timeout=10000)
    setup.skip_button.click()
    assert setup.estimate_label.text() == SKIPPED
    assert setup.isComplete() and not setup.measure_bar.isVisible()
    setup.epochs.setValue(3)  # a change after the skip measures nothing again
    qtbot.wait(600)
    assert setup.estimate_label.text() == SKIPPED and not setup.skip_button.isVisible()
    QThreadPool.globalInstance().waitForDone(60000)  # the measurement ends at its next stage
    qtbot.wait(50)
    assert setup.estimate_label.text() == SKIPPED and setup.isComplete()


def test_the_loss_chart_draws_its_first_step(qtbot):
    chart = LiveChart("Training loss", "step", "loss", "#e0823d")
    qtbot.addWidget(chart)
    chart.resize(400, 240)
    chart.show()
    chart.add(1, 0.42)  # the first step's loss
    image = chart.grab().toImage()
    orange = QColor("#e0823d").getRgb()[:3]
    pixels = (image.pixelColor(x, y).getRgb()[:3] for x in range(400) for y in range(240))
    drawn = sum(sum(abs(a - b) for a, b in zip(c, orange, strict=True)) < 40 for c in pixels)
    assert drawn > 0, "one step: nothing drawn"
