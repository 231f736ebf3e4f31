"""The main window: batch queue (left), side-by-side preview with touch-up (right), export.

Everything slow (scanning dropped folders, thumbnails, segmenting, loading a photo, export) runs
on worker threads; the window only shows results. The session (queue, masks, touch-ups) is saved
as it changes, so closing or a crash loses nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.actions import (
    Actions,
    action_table,
    build_actions,
    build_engine_toolbar,
    build_status_bar,
    make_status_parts,
)
from app.controllers.batch import BatchController, BatchView
from app.controllers.intake import IntakeController
from app.controllers.model_picker import MY_ENSEMBLE, ModelPicker
from app.controllers.preview import PreviewController
from app.controllers.removal import RemovalController
from app.controllers.review import ReviewController
from app.controllers.watch_folder import WatchFolderFeed
from app.editor import MaskDocument, PreviewPane
from app.editor.tools import Tool
from app.export_dialog import ExportDialog
from app.model import SessionModel
from app.session import Session
from app.settings import Settings
from app.theme import apply_theme
from app.widgets.angle_strip import AngleStrip
from app.widgets.empty_state import EmptyState, build_stage, show_stage
from app.widgets.preview_caption import PreviewCaption
from app.widgets.queue_view import KEY_ROLE, QueueTree
from app.worker import BatchWorker, call_in_pool
from engine import __version__

if TYPE_CHECKING:
    from app.finetune import FineTuneWizard

log = logging.getLogger(__name__)
__all__ = ["MY_ENSEMBLE", "MainWindow"]


class MainWindow(QMainWindow):
    """Lays out the queue, the preview and the menus, and connects them to the `SessionModel`
    and the controllers (app/controllers/: intake, preview, batch, review, removal, watch
    folder, models). The controllers take the model and the parts they show things in, never
    the window; what the window must do, they signal."""

    def __init__(self, session_dir: str | Path | None = None, settings: Settings | None = None):
        super().__init__()
        from engine.modelfiles.library import user_data_dir

        self.settings = settings or Settings()
        self.model = SessionModel(Session.load(session_dir or user_data_dir() / "session"), self)
        self.model.forget_removed()  # what an earlier run removed is gone for good
        self.finetune_wizard: FineTuneWizard | None = None
        self.export_dialog: ExportDialog | None = None
        self.edition_box: QMessageBox | None = None  # what the CPU edition says it cannot do
        self.setWindowTitle(self.title())
        self.setAcceptDrops(True)
        self.resize(1400, 860)
        self.queue = QueueTree()
        self.problems = QListWidget()
        self.problems.setToolTip("Files that could not be queued, with the reason")
        self.problems.setMaximumHeight(110)
        self.document = MaskDocument()
        self.pane = PreviewPane(self.document)
        self.strip = AngleStrip()
        self.caption = PreviewCaption()

        bar = self.statusBar()
        parts = make_status_parts(self.settings)
        self.rate_label, self.progress = parts.rate_label, parts.progress
        self.device_combo, self.device_label = parts.device_combo, parts.device_label
        self.model_label = parts.model_label
        view = BatchView(
            self, bar, self.progress, self.rate_label, self.queue, self.model_paths,
            self.device_combo.currentText,
        )  # fmt: skip
        model, queue = self.model, self.queue
        self.intake = IntakeController(model, queue, bar, self)
        self.preview = PreviewController(
            model, self.document, queue, self.strip, self.caption, bar, self
        )
        self.batch = BatchController(model, self.settings, view, self)
        self.review = ReviewController(model, queue, bar, self.preview.current, self)
        self.removal = RemovalController(model, queue, bar, self.batch.holds, self)
        build_status_bar(bar, parts, self.removal.undo_button)
        self.watch_feed = WatchFolderFeed(
            model, self.settings, self.batch, bar, self.intake.add_paths, self
        )

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.queue, 1)
        self.problems_label = QLabel("Problems")
        lv.addWidget(self.problems_label)
        lv.addWidget(self.problems)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.caption)
        rv.addWidget(self.pane, 1)
        rv.addWidget(self.review.make_line())
        rv.addWidget(self.strip)
        split = QSplitter()
        split.addWidget(left)
        empty = EmptyState()
        self.stage = build_stage(empty, right)  # the empty state until photos are queued
        split.addWidget(self.stage)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 960])
        self.setCentralWidget(split)

        self.acts = self._build_actions()
        for name, button in empty.buttons.items():
            button.clicked.connect(getattr(self.acts, name).trigger)
        self._connect()

        if geometry := self.settings.window_geometry:
            self.restoreGeometry(QByteArray(geometry))
        self.pane.set_brush_size(self.settings.brush_size)
        self.apply_background(self.settings.preview_background)
        self.refresh_queue()
        self.intake.thumbnails_for(list(self.session.photos))
        self.set_tool(Tool.PAN)
        self.pane.set_overlay(False)
        self._probe_engine()
        self.watch_feed.resume()
        self.batch.after_restart()

    # -- building ----------------------------------------------------------------------------
    def _build_actions(self) -> Actions:
        acts = build_actions(self, action_table(self, self))  # menus, main toolbar: app/actions.py
        self.removal.add_to(acts.menus["&Edit"], acts.brush)
        acts.pan.setChecked(True)
        for a in (acts.prev_angle, acts.next_angle):  # arrows belong to the preview/strip
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.pane.addAction(a)
            self.removeAction(a)
        self.model_combo = build_engine_toolbar(self)
        self.models = ModelPicker(self.model_combo, self.settings, self.model_label)
        self.models.fill()
        self.model_combo.currentIndexChanged.connect(self.models.chosen)
        return acts

    def _connect(self) -> None:
        """The views follow the model; the controllers' news reach the window's parts."""
        self.model.queue_changed.connect(self.refresh_queue)
        self.model.photo_changed.connect(self._photo_changed)
        self.intake.thumbnails_made.connect(self.preview.fill_strip)
        self.preview.shown.connect(self._photo_shown)
        self.batch.busy_changed.connect(self._batch_busy)
        self.batch.engine_ready.connect(self._engine_ready)
        self.batch.mask_written.connect(self.preview.mask_written)
        self.batch.finished.connect(self.review.batch_finished)
        self.removal.leaving.connect(self.preview.leaving)
        self.removal.back.connect(self.intake.thumbnails_for)
        self.review.fine_tune_asked.connect(self.open_finetune)
        self.pane.zoom_changed.connect(self.caption.show_zoom)
        self.queue.itemSelectionChanged.connect(self._update_actions)
        self.device_combo.currentTextChanged.connect(self._device_chosen)
        self._update_actions()

    @property
    def session(self) -> Session:
        """The session, to read (the model writes it)."""
        return self.model.session

    def add_paths(self, paths: list[str]) -> None:
        """Queue photos and folders (scanned on a worker: app/controllers/intake.py)."""
        self.intake.add_paths(paths)

    def _photo_changed(self, key: str) -> None:
        photo = self.session.photos.get(key)
        if photo is not None:
            self.queue.show_status(photo, self.session)

    def _photo_shown(self, key: str) -> None:
        photo = self.session.photos[key]
        editable = photo.has_mask
        for a in (self.acts.brush, self.acts.eraser, self.acts.reset):
            a.setEnabled(editable)
        if not editable:
            self.set_tool(Tool.PAN)
        self.setWindowTitle(f"{photo.name} — {self.title()}")
        self.review.show_line()

    def _batch_busy(self, busy: bool) -> None:
        if not busy:
            self.acts.pause.setChecked(False)
        self._update_actions()

    def _engine_ready(self, device: str, model: str) -> None:
        self._show_device(device)
        self.model_label.setText(f"model: {model}")

    @staticmethod
    def title() -> str:
        from engine.inference.editions import edition

        return f"CarMask Studio {__version__}" + (" (CPU edition)" if edition() == "cpu" else "")

    # -- engine info -------------------------------------------------------------------------
    def open_finetune(self) -> FineTuneWizard | None:
        """The fine-tuning wizard (non-modal: the queue stays usable while a model trains). The
        CPU edition has no PyTorch to train with: it says so, and which edition has it."""
        from engine.inference.editions import FULL_EDITION, has_torch

        if not has_torch():
            box = QMessageBox(QMessageBox.Icon.Information, "Fine-tuning", "", parent=self)
            box.setText(f"Fine-tuning needs {FULL_EDITION}.")
            box.setInformativeText(
                "Install the full edition (the package carmask-studio, in place of "
                "carmask-studio-cpu) to teach a model your cars and backdrops. Your queue, "
                "touch-ups and corrections are kept: the full edition opens them as they are."
            )
            box.open()  # not modal to the queue: the batch goes on
            self.edition_box = box
            return None
        from app.finetune import FineTuneWizard

        if self.finetune_wizard is not None and self.finetune_wizard.isVisible():
            self.finetune_wizard.raise_()
            return self.finetune_wizard
        self.preview.save_touchup()  # the stroke just painted is a correction too
        current = self.model_paths()
        wizard = FineTuneWizard(
            self.session.corrections(), str(current[0]) if len(current) == 1 else "", self
        )
        wizard.installed.connect(self._model_installed)
        wizard.finished.connect(self._finetune_closed)
        self.finetune_wizard = wizard
        wizard.show()
        return wizard

    def _finetune_closed(self, _result: int) -> None:
        self.finetune_wizard = None

    def _model_installed(self, path: str, use: str) -> None:
        self.models.installed(path, use)
        self.statusBar().showMessage(f"Model saved in the library: {path}", 10000)

    def model_paths(self) -> list[Path]:
        return self.models.paths()

    def _device_chosen(self, device: str) -> None:
        self.settings.device = device
        self._probe_engine()

    def _probe_engine(self) -> None:
        """Name the device in use (importing torch and asking CUDA is slow: off the UI thread)."""
        device = self.device_combo.currentText()

        def probe():
            from engine.inference.editions import describe_device_choice

            return describe_device_choice(device)

        call_in_pool(probe, self._show_device, lambda m: self._show_device(f"unavailable: {m}"))

    def _show_device(self, label: str) -> None:
        self.device_label.setText(f"device: {label}")
        log.info("device: %s", label)

    # -- intake ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def refresh_queue(self) -> None:
        self.queue.rebuild(self.session)
        self.problems.clear()
        for path, reason in self.session.problems:
            self.problems.addItem(f"{path.name}: {reason}")
            self.problems.item(self.problems.count() - 1).setToolTip(f"{path}\n{reason}")
        self.problems_label.setText(f"Problems ({len(self.session.problems)})")
        self.preview.fill_strip()
        show_stage(self.stage, bool(self.session.photos))
        self._update_actions()
        self.batch.show_queued()

    def clear_problems(self) -> None:
        self.model.clear_problems()

    # -- batch (app/controllers/batch.py) ---------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.batch.busy

    @property
    def worker(self) -> BatchWorker | None:
        return self.batch.worker

    # -- the preview's tools and looks -------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.pane.set_tool(tool)
        actions = {Tool.BRUSH: self.acts.brush, Tool.ERASER: self.acts.eraser}
        actions[Tool.PAN] = self.acts.pan
        actions[Tool(tool)].setChecked(True)

    def apply_background(self, key: str, save: bool = False) -> None:
        from PySide6.QtGui import QColor

        key = key if key in self.acts.backgrounds else "checker"
        self.acts.backgrounds[key].setChecked(True)
        self.pane.set_background(QColor(self.settings.background) if key == "color" else key)
        if save:
            self.settings.preview_background = key

    def set_theme(self, theme: str) -> None:
        self.settings.theme = theme
        apply_theme(theme)
        self.review.recolour()  # status colours readable on the new theme
        for photo in self.session.photos.values():
            self.queue.show_status(photo, self.session)

    # -- export and closing ------------------------------------------------------------------
    def open_export(self) -> ExportDialog:
        self.preview.save_touchup()
        dialog = ExportDialog(self.session, self.settings, self, self._selected_photo)
        dialog.show()
        self.export_dialog = dialog
        return dialog

    def _selected_photo(self) -> Path | None:
        """The photo selected in the queue (a car row: its first photo); None for none."""
        item = self.queue.currentItem()
        if item is not None and not item.data(0, KEY_ROLE) and item.childCount():
            item = item.child(0)
        photo = self.session.photos.get(item.data(0, KEY_ROLE) if item else "")
        return photo.path if photo else None

    def _update_actions(self) -> None:
        busy = self.batch.busy
        self.acts.start.setEnabled(not busy and bool(self.session.photos))
        self.acts.pause.setEnabled(busy)
        self.acts.cancel.setEnabled(busy)
        self.acts.export.setEnabled(any(p.has_mask for p in self.session.photos.values()))
        chosen = bool(self.queue.selected_keys())  # what acts on the selection needs one
        self.acts.rerun.setEnabled(chosen)
        self.acts.remove.setEnabled(chosen)
        self.model_combo.setEnabled(not busy)
        self.device_combo.setEnabled(not busy)

    def closeEvent(self, event: QCloseEvent) -> None:
        # ask every question first: a "No" to the second must not leave the first job stopped
        wizard = self.finetune_wizard
        if wizard is not None and not wizard.training:
            wizard = None  # open, but nothing to stop
        if wizard is not None and not wizard.ask_to_stop(self, "A model is training", "quit"):
            event.ignore()
            return
        if self.batch.busy:
            answer = QMessageBox.question(
                self,
                "A batch is running",
                "Stop the batch and quit? Finished photos and touch-ups are kept; the rest "
                "are segmented when CarMask starts again.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if wizard is not None:
            wizard.stop_and_wait()
        self.settings.resume_batch = int(self.batch.busy)  # left mid-batch: it goes on next time
        self.batch.stop_and_wait()
        self.preview.save_touchup()
        self.model.save()
        self.settings.window_geometry = bytes(self.saveGeometry().data())
        self.watch_feed.window_closed()
        event.accept()
