"""Wizard page 3: training in a child process with live charts of loss and validation Dice,
progress and time left. Stop ends the child cleanly and keeps the best model so far."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from app.finetune.charts import LiveChart
from app.finetune.pages import of_wizard
from app.finetune.process import TrainProcess
from app.worker import call_in_pool, fmt_time
from engine.modelfiles.library import user_data_dir


def new_run_dir() -> Path:
    base = user_data_dir() / "finetune"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, n = base / stamp, 2
    while folder.exists():
        folder, n = base / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    return folder


class TrainingPage(QWizardPage):
    ended = Signal()  # the child process is gone (done, stopped, failed)

    def __init__(self):
        super().__init__()
        self.setTitle("Training")
        self.setSubTitle(
            "The model trains in a separate process; you can keep working in the main window. "
            "Stop keeps the best model so far."
        )
        self.process = TrainProcess(self)
        self.process.engine_event.connect(self.on_event)
        self.process.finished.connect(self._finished)
        self.run_dir: Path | None = None
        self.model_path: Path | None = None
        self.outcome = ""  # "", "done", "cancelled", "failed"
        self.best = float("nan")
        self.events: list[dict] = []

        self.info = QLabel("Starting…")
        self.info.setWordWrap(True)
        self.bar = QProgressBar()
        self.left = QLabel("")
        self.loss_chart = LiveChart("Training loss", "step", "loss", "#e0823d")
        self.dice_chart = LiveChart("Validation Dice", "epoch", "Dice", "#3daee9", markers=True)
        charts = QHBoxLayout()
        charts.addWidget(self.loss_chart)
        charts.addWidget(self.dice_chart)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumHeight(90)
        self.stop_button = QPushButton("Stop training (keep the best model so far)")
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.left)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addLayout(row)
        layout.addLayout(charts, 1)
        layout.addWidget(self.log)

    @property
    def running(self) -> bool:
        return self.process.running

    def initializePage(self) -> None:
        wizard = of_wizard(self)
        if self.running or self.outcome:
            return  # already started (Back is not offered during or after training)
        cfg = wizard.setup_page.config()
        train, val = wizard.setup_page.split()
        self.run_dir = new_run_dir()
        cfg.out = str(self.run_dir / "model.safetensors")
        cfg.cancel_file = str(self.run_dir / "stop")
        cfg.cache_dir = str(self.run_dir / "cache")
        cfg.train_pairs = [p.to_dict() for p in train]
        cfg.val_pairs = [p.to_dict() for p in val]
        cfg.data = wizard.data_page.folder_edit.text()
        config_path = self.run_dir / "run.json"
        config_path.write_text(json.dumps(cfg.to_dict(), indent=1, default=list))
        self.train_pairs, self.val_pairs = train, val
        self.model_path = Path(cfg.out)
        self.info.setText(f"Starting the training process (run folder {self.run_dir})…")
        self.bar.setRange(0, 0)
        self.process.start(config_path, Path(cfg.cancel_file))
        self.stop_button.setEnabled(True)

    def stop(self) -> None:
        if self.running:
            self.stop_button.setEnabled(False)
            self.info.setText("Stopping after the current step; the best model so far is kept…")
            self.process.stop()

    # -- events from the child ---------------------------------------------------------------
    def on_event(self, e: dict) -> None:
        self.events.append(e)
        kind = e.get("event")
        if kind == "start":
            self.bar.setRange(0, int(e["total_steps"]))
            self.bar.setValue(0)
            h, w = e["input_size"]
            self.info.setText(
                f"Training on {e['device']}: {e['train_photos']} photos to learn from, "
                f"{e['val_photos']} held back to check, {e['epochs']} epochs at {h}×{w}."
            )
        elif kind == "step":
            self.bar.setValue(int(e["global_step"]))
            self.loss_chart.add(e["global_step"], float(e["loss"]["total"]))
            self.left.setText(f"epoch {e['epoch']}, {fmt_time(e['eta_s'])} left")
        elif kind == "epoch":
            self.dice_chart.add(e["epoch"], float(e["val_dice"]))  # the chart skips NaN
            self.best = float(e["best_val_dice"])
            self.left.setText(f"epoch {e['epoch']} of {e['epochs']}, {fmt_time(e['eta_s'])} left")
        elif kind == "log":
            self.log.appendPlainText(f"{e.get('level', 'info')}: {e.get('message', '')}")
        elif kind == "error":
            self.log.appendPlainText(f"error: {e.get('message', '')}")
        elif kind in ("done", "cancelled"):
            self.best = float(e.get("best_val_dice", self.best))

    def _finished(self, code: int, stderr: str) -> None:
        ok = self.model_path is not None and self.model_path.exists()
        kinds = {e.get("event") for e in self.events}
        if code == 0 and "done" in kinds:
            self.outcome = "done"
            self.info.setText(f"Finished: best validation Dice {self.best:.4f}.")
        elif "cancelled" in kinds or (ok and self._stop_asked()):
            self.outcome = "cancelled"
            self.info.setText(
                f"Stopped. The best model so far is kept (validation Dice {self.best:.4f})."
            )
        else:
            self.outcome = "failed"
            errors = [e.get("message", "") for e in self.events if e.get("event") == "error"]
            why = errors[-1] if errors else (stderr.strip().splitlines() or ["no reason given"])[-1]
            kept = " The best model so far is kept." if ok else ""
            self.info.setText(f"Training failed: {why}.{kept}")
            if stderr:
                self.log.appendPlainText(stderr)
        self.bar.setRange(0, max(1, self.bar.maximum()))
        self.left.setText("")  # no time is left once training has stopped
        self.stop_button.setEnabled(False)
        self._clean_up()
        self.completeChanged.emit()
        self.ended.emit()

    def _stop_asked(self) -> bool:
        return self.process.cancel_file is not None and self.process.cancel_file.exists()

    def _clean_up(self) -> None:
        """The resized-photo cache is only for this run: free the disk. The trained model and
        run.json stay in the run folder (a wizard run keeps no resume state)."""
        import shutil

        if self.run_dir is None:
            return
        cache = self.run_dir / "cache"  # thousands of files: deleted on the pool, not the UI
        call_in_pool(lambda: shutil.rmtree(cache, ignore_errors=True), lambda _: None)

    def isComplete(self) -> bool:
        return (
            not self.running
            and self.outcome in ("done", "cancelled", "failed")
            and self.model_path is not None
            and self.model_path.exists()
        )
