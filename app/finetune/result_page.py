"""Wizard page 4: the base model and the new one scored on the same held-out photos, the photos
where they differ most side by side, and where the new model goes (library, default, ensemble)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.finetune.pages import of_wizard
from app.worker import Progress, call_in_pool

EXAMPLE_WIDTH = 360


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ResultPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Result")
        self.setSubTitle(
            "Both models are scored on the same photos held back from training (Dice at full "
            "size; 1.0 is perfect). Red: background taken for car; blue: car that was missed."
        )
        self.comparison = None
        self.installing = False
        self.installed_path: Path | None = None
        self._progress = Progress(self)
        self._progress.changed.connect(self._on_progress)

        self.summary = QLabel("Scoring both models…")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.bar = QProgressBar()
        self.examples = QWidget()
        self.grid = QGridLayout(self.examples)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.examples)
        self.name = QLineEdit()
        self.name.textChanged.connect(self.completeChanged)
        self.use_buttons = {
            "library": QRadioButton("Keep it in the model library"),
            "default": QRadioButton("Make it my default model"),
            "ensemble": QRadioButton("Add it to my ensemble (with the current default) and use it"),
        }
        group = QButtonGroup(self)
        for b in self.use_buttons.values():
            group.addButton(b)
        # the default is chosen for the operator only once the score shows it is better
        self.use_buttons["library"].setChecked(True)
        form = QFormLayout()
        form.addRow("Name:", self.name)
        for b in self.use_buttons.values():
            form.addRow("", b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.bar)
        layout.addWidget(scroll, 1)
        layout.addLayout(form)

    @property
    def use(self) -> str:
        return next(k for k, b in self.use_buttons.items() if b.isChecked())

    def initializePage(self) -> None:
        wizard = of_wizard(self)
        training = wizard.training_page
        base = wizard.setup_page.base.currentData()
        if not self.name.text():
            folder = Path(wizard.data_page.folder_edit.text() or "studio").name
            self.name.setText(f"{folder} fine-tuned")
        if self.comparison is not None:
            return
        models = [base, str(training.model_path)]
        pairs = training.val_pairs
        device = wizard.setup_page.device.currentText()
        self.bar.setRange(0, len(pairs))
        progress = self._progress

        def run():
            from engine.training.finetune import compare

            return compare(
                models,
                pairs,
                device,
                preview_width=EXAMPLE_WIDTH,  # made at the size shown: no rescaling here
                progress=lambda i, n: progress.changed.emit(i, n),
            )

        call_in_pool(run, self._compared, self._compare_failed)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.bar.setValue(done)
        self.summary.setText(f"Scoring both models on the held-out photos: {done} of {total}…")

    def _compared(self, comparison) -> None:
        self.comparison = comparison
        base, new = comparison.mean(0), comparison.mean(1)
        cars = len({p.car for p in comparison.pairs})
        better = sum(s[1] > s[0] for s in comparison.scores)
        colour = "#4caf50" if new > base else "#e05050"
        self.summary.setText(
            f"On {len(comparison.pairs)} held-out photos of {cars} car(s): base model "
            f"<b>{base:.4f}</b> → new model <b style='color:{colour}'>{new:.4f}</b> "
            f"({new - base:+.4f}); the new one is better on {better} of "
            f"{len(comparison.pairs)} photos."
        )
        if new > base:
            self.use_buttons["default"].setChecked(True)
        else:
            self.use_buttons["library"].setChecked(True)
            self.summary.setText(
                self.summary.text() + "<br><b>The new model is not better than the base model "
                "on these photos</b>: it is kept in the library, and your default model stays."
            )
        self.bar.hide()
        for col, title in enumerate(("Base model", "New model")):
            self.grid.addWidget(QLabel(f"<b>{title}</b>"), 0, col)
        for row, example in enumerate(comparison.examples, start=1):
            for col, view in enumerate(example.views):
                label = QLabel()
                label.setPixmap(to_pixmap(view))
                label.setToolTip(str(example.pair.image))
                caption = QLabel(f"{example.pair.image.name}: Dice {example.dice[col]:.4f}")
                box = QWidget()
                v = QVBoxLayout(box)
                v.setContentsMargins(0, 0, 0, 0)
                v.addWidget(label)
                v.addWidget(caption)
                self.grid.addWidget(box, row, col)
        self.completeChanged.emit()

    def _compare_failed(self, message: str) -> None:
        self.bar.hide()
        self.summary.setText(f"Could not score the models: {message}. You can still save it.")
        self.comparison = False  # scoring is over
        self.completeChanged.emit()

    # -- saving ------------------------------------------------------------------------------
    def isComplete(self) -> bool:
        return (
            self.comparison is not None and bool(self.name.text().strip()) and not self.installing
        )

    def validatePage(self) -> bool:
        """Finish: install the model into the library off the UI thread, then close."""
        if self.installed_path is not None:
            return True
        self.installing = True
        self.completeChanged.emit()
        self.summary.setText(self.summary.text() + "<br>Saving into the model library…")
        source, name = of_wizard(self).training_page.model_path, self.name.text().strip()

        def run():
            from engine.training.finetune import install_model

            if source is None:
                raise ValueError("no trained model to save")
            return install_model(source, name)

        call_in_pool(run, self._installed, self._install_failed)
        return False

    def _installed(self, path: Path) -> None:
        self.installed_path = Path(path)
        self.installing = False
        of_wizard(self).installed.emit(str(path), self.use)
        of_wizard(self).accept()

    def _install_failed(self, message: str) -> None:
        self.installing = False
        self.summary.setText(f"Could not save the model: {message}")
        self.completeChanged.emit()
