"""The fine-tuning wizard (QWizard): data → setup → training (child process) → result.

The window hands it the operator's corrections (touched-up photos) and the model in use; the
wizard hands back, through `installed`, the new model file in the library and what to do with
it ("library", "default" or "ensemble")."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWizard

from app.finetune.data_page import DataPage
from app.finetune.result_page import ResultPage
from app.finetune.setup_page import SetupPage
from app.finetune.training_page import TrainingPage
from engine.training.pairs import Pair


class FineTuneWizard(QWizard):
    installed = Signal(str, str)  # model file in the library, use: library | default | ensemble

    def __init__(self, corrections: list[Pair], current_model: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a model on your photos")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.resize(980, 760)
        self.data_page = DataPage(corrections)
        self.setup_page = SetupPage(current_model)
        self.training_page = TrainingPage()
        self.result_page = ResultPage()
        # the setup page commits: there is no going back into a running or finished training
        self.setup_page.setCommitPage(True)
        self.setup_page.setButtonText(QWizard.WizardButton.CommitButton, "Start training")
        for page in (self.data_page, self.setup_page, self.training_page, self.result_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save model")
        self._closing = False

    @property
    def training(self) -> bool:
        return self.training_page.running

    def stop_training(self) -> None:
        self.training_page.stop()

    def stop_and_wait(self) -> None:
        """Stop the training and wait for the child to end (when the app quits)."""
        self.stop_training()
        self.training_page.process.stop_and_wait()

    def ask_to_stop(self, parent, title: str, action: str) -> bool:
        """Ask before a close stops the training; True to go ahead."""
        answer = QMessageBox.question(
            parent,
            title,
            f"Stop the training and {action}? The best model so far is kept in "
            f"{self.training_page.run_dir}.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def reject(self) -> None:
        """Closing while training asks first; the child is stopped cleanly, not abandoned."""
        if self.training:
            if not self.ask_to_stop(self, "Training is running", "close"):
                return
            if not self._closing:
                self._closing = True
                self.training_page.ended.connect(super().reject)
            self.stop_training()
            return
        super().reject()
