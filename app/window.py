"""The main window: batch queue (left), side-by-side preview with touch-up (right), export.

Everything slow (scanning dropped folders, thumbnails, segmenting, loading a photo, export) runs
on worker threads; the window only shows results. The session (queue, masks, touch-ups) is saved
as it changes, so closing or a crash loses nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.editor import MaskDocument, PreviewPane
from app.export_dialog import ExportDialog
from app.queue_view import KEY_ROLE, THUMB, QueueTree, make_thumbnail
from app.session import DONE, FAILED, PROCESSING, QUEUED, TOUCHED, Session
from app.settings import Settings
from app.worker import BatchWorker, call_in_pool, fmt_time, start_batch
from engine import __version__

log = logging.getLogger(__name__)
MY_ENSEMBLE = "my-ensemble"  # the "model" setting for the ensemble the operator built
STATUS_SAVE_MS = 1000  # a running batch saves the queue at most this often
SAVE_DELAY_MS = 800  # touch-ups are saved this long after the last stroke (and on any switch)


class MainWindow(QMainWindow):
    def __init__(self, session_dir: str | Path | None = None, settings: Settings | None = None):
        super().__init__()
        from engine.library import user_data_dir

        self.settings = settings or Settings()
        self.session = Session.load(session_dir or user_data_dir() / "session")
        self.worker: BatchWorker | None = None
        self.thread = None
        self.current_key = ""
        self.finetune_wizard = None
        self._loading_key = ""
        self.setWindowTitle(f"CarMask Studio {__version__}")
        self.setAcceptDrops(True)
        self.resize(1400, 860)

        self.queue = QueueTree()
        self.problems = QListWidget()
        self.problems.setToolTip("Files that could not be queued, with the reason")
        self.problems.setMaximumHeight(110)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.queue, 1)
        self.problems_label = QLabel("Problems")
        lv.addWidget(self.problems_label)
        lv.addWidget(self.problems)

        self.document = MaskDocument()
        self.pane = PreviewPane(self.document)
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(THUMB)
        self.strip.setFixedHeight(THUMB.height() + 44)
        self.strip.setToolTip("The car's angles (← → to move between them)")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.pane, 1)
        rv.addWidget(self.strip)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([440, 960])
        self.setCentralWidget(split)

        self._build_status_bar()
        self._build_actions()
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_touchup)
        # session.json holds the whole queue: a batch saves it once a second, not once per photo
        self._status_save_timer = QTimer(self, singleShot=True, interval=STATUS_SAVE_MS)
        self._status_save_timer.timeout.connect(self.session.save)
        self.queue.photo_selected.connect(self.show_photo)
        self.strip.currentItemChanged.connect(self._strip_changed)
        self.document.changed.connect(self._mask_edited)
        self.pane.brush_size_changed.connect(self._brush_size_shown)

        geometry = self.settings.get("window_geometry")
        if geometry:
            self.restoreGeometry(QByteArray(geometry))
        self.pane.set_brush_size(self.settings.get("brush_size"))
        self._apply_background(self.settings.get("preview_background"))
        self.refresh_queue()
        self._thumbnails_for(list(self.session.photos))
        self.set_tool("pan")
        self.pane.set_overlay(False)
        self._probe_engine()

    # -- building ----------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.device_label = QLabel("device: …")
        self.model_label = QLabel("model: …")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.rate_label = QLabel("")
        bar = self.statusBar()
        bar.addWidget(self.rate_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.device_label)
        bar.addPermanentWidget(self.model_label)

    def _action(
        self, text, slot, shortcut=None, tip="", checkable=False, menu=None, bar=None, short=""
    ):
        action = QAction(text, self)
        if short:
            action.setIconText(short)  # the toolbar's label; menus show the full text
        if shortcut:
            seqs = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in seqs])
        label = tip or text.replace("…", "").replace("&", "")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{label} ({keys})" if keys else label)
        action.setStatusTip(label)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        if bar is not None:
            bar.addAction(action)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        mb = self.menuBar()
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setIconSize(QSize(18, 18))
        f = mb.addMenu("&File")
        self.add_files_action = self._action(
            "Add &photos…",
            self.add_files_dialog,
            QKeySequence.StandardKey.Open,
            menu=f,
            bar=tb,
            short="Add photos",
        )
        self.add_folder_action = self._action(
            "Add &folder…", self.add_folder_dialog, "Ctrl+Shift+O", menu=f, bar=tb
        )
        self._action("Open &samples", self.open_samples, menu=f, tip="Queue the sample car")
        f.addSeparator()
        self.export_action = self._action(
            "&Export cutouts…", self.open_export, "Ctrl+E", menu=f, bar=tb, short="Export"
        )
        f.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, menu=f)

        b = mb.addMenu("&Batch")
        tb.addSeparator()
        self.start_action = self._action("&Start", self.start_batch, "F5", menu=b, bar=tb)
        self.pause_action = self._action(
            "&Pause", self.toggle_pause, "F6", checkable=True, menu=b, bar=tb
        )
        self.cancel_action = self._action("&Cancel", self.cancel_batch, "Shift+F5", menu=b, bar=tb)
        b.addSeparator()
        self.rerun_action = self._action(
            "&Run selected again", self.rerun_selected, "Ctrl+Shift+R", menu=b
        )
        self.remove_action = self._action(
            "Re&move selected from queue",
            self.remove_selected,
            QKeySequence.StandardKey.Delete,
            menu=b,
        )
        self._action("Clear problem list", self.clear_problems, menu=b)

        m = mb.addMenu("&Models")
        self.finetune_action = self._action(
            "&Fine-tune a model on my photos…",
            self.open_finetune,
            "Ctrl+Shift+T",
            menu=m,
            tip="Teach a model your cars, backdrops and taste from labelled photos",
        )

        e = mb.addMenu("&Edit")
        tb.addSeparator()
        group = self.document.undo_group  # each photo has its own history
        self.undo_action = group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
        self.redo_action = group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(QKeySequence.StandardKey.Redo)
        for a, short in ((self.undo_action, "Undo"), (self.redo_action, "Redo")):
            a.setIconText(short)
            keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            a.setToolTip(f"{short} the last brush stroke ({keys})")
            e.addAction(a)
            tb.addAction(a)
        tools = QActionGroup(self)
        self.brush_action = self._action(
            "&Brush (add car)",
            lambda: self.set_tool("brush"),
            "B",
            checkable=True,
            menu=e,
            bar=tb,
            short="Brush",
        )
        self.eraser_action = self._action(
            "&Eraser (remove)",
            lambda: self.set_tool("eraser"),
            "E",
            checkable=True,
            menu=e,
            bar=tb,
            short="Eraser",
        )
        self.pan_action = self._action(
            "&Hand (pan)",
            lambda: self.set_tool("pan"),
            "H",
            checkable=True,
            menu=e,
            bar=tb,
            short="Hand",
        )
        for a in (self.brush_action, self.eraser_action, self.pan_action):
            tools.addAction(a)
        self.pan_action.setChecked(True)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(1, 300)
        self.brush_slider.setMaximumWidth(140)
        self.brush_slider.setToolTip("Brush size in photo pixels ([ smaller, ] larger)")
        self.brush_slider.valueChanged.connect(self._brush_slider_moved)
        tb.addWidget(self.brush_slider)
        self.brush_value = QLabel("")
        tb.addWidget(self.brush_value)
        self.reset_action = self._action(
            "Reset to the &model's mask", self.reset_mask, "Ctrl+Shift+Backspace", menu=e
        )

        v = mb.addMenu("&View")
        tb.addSeparator()
        self._action(
            "Zoom to &fit", lambda: self.pane.zoom_fit(), "Ctrl+0", menu=v, bar=tb, short="Fit"
        )
        self._action(
            "Zoom &100 %", lambda: self.pane.zoom_100(), "Ctrl+1", menu=v, bar=tb, short="100 %"
        )
        self._action(
            "Zoom &in", lambda: self.pane.zoom_in(), QKeySequence.StandardKey.ZoomIn, menu=v
        )
        self._action(
            "Zoom &out", lambda: self.pane.zoom_out(), QKeySequence.StandardKey.ZoomOut, menu=v
        )
        self.overlay_action = self._action(
            "Mask &overlay",
            self._toggle_overlay,
            "M",
            checkable=True,
            menu=v,
            bar=tb,
            short="Overlay",
        )
        v.addSeparator()
        self.prev_action = self._action(
            "&Previous angle", lambda: self.step_angle(-1), ["Left", "PgUp"], menu=v
        )
        self.next_action = self._action(
            "&Next angle", lambda: self.step_angle(1), ["Right", "PgDown"], menu=v
        )
        for a in (self.prev_action, self.next_action):  # arrows belong to the preview/strip
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.pane.addAction(a)
            self.removeAction(a)
        v.addSeparator()
        bg = v.addMenu("Cutout &background")
        group = QActionGroup(self)
        self.background_actions = {}
        for key, text in (("checker", "Checkerboard"), ("white", "White"), ("color", "Colour")):
            a = QAction(text, self, checkable=True)
            a.triggered.connect(lambda _=False, k=key: self._apply_background(k, save=True))
            group.addAction(a)
            bg.addAction(a)
            self.background_actions[key] = a
        theme = v.addMenu("&Theme")
        tgroup = QActionGroup(self)
        for key, text in (("dark", "Dark"), ("light", "Light")):
            a = QAction(text, self, checkable=True)
            a.setChecked(self.settings.get("theme") == key)
            a.triggered.connect(lambda _=False, k=key: self.set_theme(k))
            tgroup.addAction(a)
            theme.addAction(a)

        tb = self.addToolBar("Engine")
        tb.setObjectName("engine-toolbar")
        tb.addWidget(QLabel(" Model "))
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("The model (or ensemble) the batch uses")
        self.model_combo.setMinimumWidth(220)
        tb.addWidget(self.model_combo)
        tb.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda"])
        self.device_combo.setCurrentText(self.settings.get("device"))
        self.device_combo.setToolTip("auto: the GPU when there is one, else the CPU")
        self.device_combo.currentTextChanged.connect(self._device_chosen)
        tb.addWidget(self.device_combo)
        self._fill_models()
        self.model_combo.currentIndexChanged.connect(self._model_chosen)
        self._update_actions()

    # -- engine info -------------------------------------------------------------------------
    def _fill_models(self) -> None:
        """Shipped default, shipped ensemble and every model file in the library."""
        from engine.library import list_library

        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        default, ensemble = self._shipped()
        if default:
            self.model_combo.addItem("Default model", ["default", [str(p) for p in default]])
        if ensemble:
            self.model_combo.addItem(
                f"Ensemble ({len(ensemble)} models)", ["ensemble", [str(p) for p in ensemble]]
            )
        mine = self._user_ensemble()
        if len(mine) > 1:
            self.model_combo.addItem(
                f"My ensemble ({len(mine)} models)", [MY_ENSEMBLE, [str(p) for p in mine]]
            )
        # the default is listed once (above); ensemble members stay choosable on their own
        shipped = {str(p) for p in default}
        found, errors = list_library()  # headers only, no torch: fast enough for the UI thread
        for path, header in found:
            if str(path) not in shipped:
                self.model_combo.addItem(header.label, [str(path), [str(path)]])
        for exc in errors:
            log.warning("model library: %s", exc)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("no model installed", ["", []])
        wanted = self.settings.get("model")
        for i in range(self.model_combo.count()):
            if self.model_combo.itemData(i)[0] == wanted:
                self.model_combo.setCurrentIndex(i)
        self.model_combo.blockSignals(False)
        self.model_label.setText(f"model: {self.model_combo.currentText()}")

    @staticmethod
    def _shipped() -> tuple[list[Path], list[Path]]:
        """The shipped default and ensemble model files (empty where nothing is shipped)."""
        from engine.library import default_model_paths, ensemble_model_paths

        found: list[list[Path]] = []
        for get in (default_model_paths, ensemble_model_paths):
            try:
                found.append(get())
            except ValueError:
                found.append([])
        return found[0], found[1]

    def _user_ensemble(self) -> list[Path]:
        try:
            paths = [Path(p) for p in json.loads(self.settings.get("ensemble") or "[]")]
        except ValueError:
            return []
        return [p for p in paths if p.is_file()]

    def open_finetune(self):
        """The fine-tuning wizard (non-modal: the queue stays usable while a model trains)."""
        from app.finetune import FineTuneWizard

        if self.finetune_wizard is not None and self.finetune_wizard.isVisible():
            self.finetune_wizard.raise_()
            return self.finetune_wizard
        self.save_touchup()  # the stroke just painted is a correction too
        current = self.model_paths()
        wizard = FineTuneWizard(
            self.session.corrections(), str(current[0]) if len(current) == 1 else "", self
        )
        wizard.installed.connect(self._model_installed)
        wizard.finished.connect(lambda _r: setattr(self, "finetune_wizard", None))
        self.finetune_wizard = wizard
        wizard.show()
        return wizard

    def _model_installed(self, path: str, use: str) -> None:
        """A model from the wizard is in the library: list it, and use it as asked."""
        log.info("fine-tuned model saved: %s (%s)", path, use)
        if use == "default":
            self.settings.set("model", path)
        elif use == "ensemble":
            members = self._user_ensemble() or self.model_paths()
            members = [str(p) for p in members if str(p) != path] + [path]
            self.settings.set("ensemble", json.dumps(members))
            self.settings.set("model", MY_ENSEMBLE)
        self._fill_models()
        self.statusBar().showMessage(f"Model saved in the library: {path}", 10000)

    def model_paths(self) -> list[Path]:
        data = self.model_combo.currentData() or ["", []]
        return [Path(p) for p in data[1]]

    def _model_chosen(self, _index: int) -> None:
        self.settings.set("model", (self.model_combo.currentData() or [""])[0])
        self.model_label.setText(f"model: {self.model_combo.currentText()}")

    def _device_chosen(self, device: str) -> None:
        self.settings.set("device", device)
        self._probe_engine()

    def _probe_engine(self) -> None:
        """Name the device in use (importing torch and asking CUDA is slow: off the UI thread)."""
        device = self.device_combo.currentText()

        def probe():
            from engine.devices import describe_device, resolve_device

            return describe_device(resolve_device(device))

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

    def add_files_dialog(self) -> None:
        from engine.io import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", f"Photos ({patterns})")
        if files:
            self.add_paths(files)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_paths([folder])

    def open_samples(self) -> None:
        from engine.library import resources_dir

        self.add_paths([str(resources_dir() / "samples")])

    def add_paths(self, paths: list[str]) -> None:
        """Scan files/folders on a worker, then queue the good photos and list the problems."""
        self.statusBar().showMessage("Scanning…")
        call_in_pool(lambda: Session.scan(paths), self._scanned, self._scan_failed)

    def _scanned(self, result) -> None:
        report = self.session.add_checked(*result)
        self.refresh_queue()
        self._thumbnails_for([p.key for p in report.added])
        self.statusBar().showMessage(report.summary(), 8000)
        if not self.queue.current_key() and report.added:
            self.queue.select(report.added[0].key)

    def _scan_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not add the photos: {message}", 8000)

    def _thumbnails_for(self, keys: list[str]) -> None:
        paths = [(k, self.session.photos[k].path) for k in keys if k in self.session.photos]
        if not paths:
            return

        def make():
            return [(k, make_thumbnail(p)) for k, p in paths]

        call_in_pool(make, self._thumbnails_made)

    def _thumbnails_made(self, pairs) -> None:
        for key, image in pairs:
            self.queue.set_thumbnail(key, image)
        self._fill_strip()

    def refresh_queue(self) -> None:
        self.queue.rebuild(self.session)
        self.problems.clear()
        for path, reason in self.session.problems:
            self.problems.addItem(f"{path.name}: {reason}")
            self.problems.item(self.problems.count() - 1).setToolTip(f"{path}\n{reason}")
        self.problems_label.setText(f"Problems ({len(self.session.problems)})")
        self._fill_strip()
        self._update_actions()

    def clear_problems(self) -> None:
        self.session.clear_problems()
        self.refresh_queue()

    def remove_selected(self) -> None:
        keys = self.queue.selected_keys()
        if self.worker is not None:
            keys = [k for k in keys if k not in self.worker.keys]
        if not keys:
            return
        if self.current_key in keys:
            self.save_touchup()
            self.current_key = ""
            self.document.clear()
        if self._loading_key in keys:  # still loading: it must not show up once removed
            self._loading_key = ""
        self.session.remove(keys)
        for key in keys:
            self.document.forget(key)
        self.refresh_queue()

    # -- batch -------------------------------------------------------------------------------
    def start_batch(self) -> None:
        if self.worker is not None:
            return
        pending = self.session.pending()
        if not pending:
            self.statusBar().showMessage("Nothing to do: every photo is segmented.", 5000)
            return
        models = self.model_paths()
        if not models:
            QMessageBox.warning(
                self, "No model", "No model is installed. Add a model file to the library."
            )
            return
        self.session.requeue(pending)
        for photo in pending:
            self.queue.show_status(photo, self.session)
        keys = [p.key for p in pending]
        self.worker = BatchWorker(self.session, keys, models, self.device_combo.currentText())
        self.worker.engine_ready.connect(self._engine_ready)
        self.worker.engine_failed.connect(self._engine_failed)
        self.worker.photo_started.connect(self._photo_started)
        self.worker.photo_done.connect(self._photo_done)
        self.worker.photo_failed.connect(self._photo_failed)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._batch_finished)
        self.progress.setRange(0, len(keys))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.rate_label.setText("loading the model…")
        self.thread = start_batch(self.worker)
        self._update_actions()

    def toggle_pause(self, checked: bool) -> None:
        if self.worker is None:
            self.pause_action.setChecked(False)
            return
        if checked:
            self.worker.pause()
            self.rate_label.setText("paused (after the current photo)")
        else:
            self.worker.resume()

    def cancel_batch(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.rate_label.setText("cancelling after the current photo…")

    @Slot(str, str)
    def _engine_ready(self, device: str, model: str) -> None:
        self._show_device(device)
        self.model_label.setText(f"model: {model}")

    @Slot(str)
    def _engine_failed(self, message: str) -> None:
        QMessageBox.critical(self, "Cannot start the batch", message)

    @Slot(str)
    def _photo_started(self, key: str) -> None:
        photo = self.session.photos.get(key)
        if photo:
            photo.status = PROCESSING  # shown only; saved as queued if the app stops now
            self.queue.show_status(photo, self.session)

    @Slot(str, float, str)
    def _photo_done(self, key: str, seconds: float, model: str) -> None:
        photo = self.session.photos.get(key)
        if photo:
            self.session.set_status(photo, DONE, save=False, seconds=seconds, model=model)
            self._save_statuses_soon()
            self.queue.show_status(photo, self.session)
            if key == self.current_key:
                self.show_photo(key)

    @Slot(str, str)
    def _photo_failed(self, key: str, reason: str) -> None:
        photo = self.session.photos.get(key)
        if photo:
            self.session.set_status(photo, FAILED, reason, save=False)
            self._save_statuses_soon()
            self.queue.show_status(photo, self.session)

    def _save_statuses_soon(self) -> None:
        """Within a second (not restarted by the next photo: a long batch still saves)."""
        if not self._status_save_timer.isActive():
            self._status_save_timer.start()

    @Slot(int, int, float, float)
    def _progress(self, done: int, total: int, rate: float, left: float) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if not (self.worker and self.worker.paused):
            self.rate_label.setText(f"{done}/{total} · {rate:.2f} photos/s · {fmt_time(left)} left")

    @Slot(bool)
    def _batch_finished(self, cancelled: bool) -> None:
        for photo in self.session.photos.values():
            if photo.status == PROCESSING:
                self.session.set_status(photo, QUEUED, save=False)
                self.queue.show_status(photo, self.session)
        self._status_save_timer.stop()
        self.session.save()
        done = self.session.count(DONE, TOUCHED)
        failed = self.session.count(FAILED)
        verb = "Cancelled" if cancelled else "Finished"
        self.rate_label.setText(f"{verb}: {done} segmented, {failed} failed")
        self.progress.setVisible(False)
        self.pause_action.setChecked(False)
        if self.thread is not None:
            self.thread.wait()
        self.worker, self.thread = None, None
        self._update_actions()

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def rerun_selected(self) -> None:
        photos = [self.session.photos[k] for k in self.queue.selected_keys()]
        photos = [p for p in photos if p.status != PROCESSING]
        if not photos:
            return
        touched = [p for p in photos if p.status == TOUCHED]
        if touched:
            answer = QMessageBox.question(
                self,
                "Touched-up photos",
                f"{len(touched)} of the selected photos have touch-ups. Discard them and use the "
                "new model masks?\n\nYes: discard the touch-ups. No: run the model but keep the "
                "touch-ups.",
                QMessageBox.StandardButton.Yes
                | QMessageBox.StandardButton.No
                | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                for p in touched:
                    self.session.discard_touchup(p)
        self.session.requeue(photos)  # a kept touch-up stays in its own file
        self.start_batch()

    # -- preview and touch-up ----------------------------------------------------------------
    @Slot(str)
    def show_photo(self, key: str) -> None:
        """Load the photo and its masks on a worker, then show them."""
        if key != self.current_key:
            self.save_touchup()
        photo = self.session.photos.get(key)
        if photo is None:
            return
        self._loading_key = key
        session = self.session

        def load():
            from engine.io import read_rgb

            rgb = read_rgb(photo.path)
            return (key, rgb, *session.masks(photo))

        call_in_pool(load, self._photo_loaded, self._photo_load_failed)
        self._sync_strip(key)

    def _photo_loaded(self, result) -> None:
        key, rgb, model, mask = result
        if key != self._loading_key:
            return  # the operator moved on meanwhile
        if model is None or model.shape != rgb.shape[:2]:
            model = mask = np.zeros(rgb.shape[:2], bool)
        elif mask is None or mask.shape != rgb.shape[:2]:
            mask = model  # the document keeps its own copies
        self.current_key = key
        self.document.load(rgb, model, mask, key=key)
        photo = self.session.photos[key]
        editable = photo.has_mask
        for a in (self.brush_action, self.eraser_action, self.reset_action):
            a.setEnabled(editable)
        if not editable:
            self.set_tool("pan")
        self.setWindowTitle(f"{photo.name} — CarMask Studio {__version__}")

    def _photo_load_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Cannot show the photo: {message}", 8000)

    def _mask_edited(self, *_region) -> None:
        if self.current_key:
            self._save_timer.start()

    @Slot()
    def save_touchup(self) -> None:
        """Keep the operator's mask for the current photo (on a timer, on switch and on close)."""
        self._save_timer.stop()
        photo = self.session.photos.get(self.current_key)
        if photo is None or not photo.has_mask or self.document.mask is None:
            return
        stack = self.document.undo_stack
        if stack.isClean():  # the mask is what was loaded or last saved
            return
        self.session.save_touchup(photo, self.document.mask.copy(), self.document.model_mask)
        stack.setClean()
        self.queue.show_status(photo, self.session)

    def reset_mask(self) -> None:
        if self.current_key:
            self.document.reset_to_model()

    def set_tool(self, tool: str) -> None:
        self.pane.set_tool(tool)
        {"brush": self.brush_action, "eraser": self.eraser_action, "pan": self.pan_action}[
            tool
        ].setChecked(True)

    def _brush_slider_moved(self, value: int) -> None:
        if value != self.pane.brush_size:
            self.pane.set_brush_size(value)

    def _brush_size_shown(self, size: int) -> None:
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(size)
        self.brush_slider.blockSignals(False)
        self.brush_value.setText(f" {size} px ")
        self.settings.set("brush_size", size, sync=False)  # every slider tick

    def _toggle_overlay(self, checked: bool) -> None:
        self.pane.set_overlay(checked)

    def _apply_background(self, key: str, save: bool = False) -> None:
        from PySide6.QtGui import QColor

        key = key if key in self.background_actions else "checker"
        self.background_actions[key].setChecked(True)
        self.pane.set_background(QColor(self.settings.get("background")) if key == "color" else key)
        if save:
            self.settings.set("preview_background", key)

    def set_theme(self, theme: str) -> None:
        from app.main import apply_theme

        self.settings.set("theme", theme)
        apply_theme(theme)

    # -- angle strip -------------------------------------------------------------------------
    def _car_photos(self, key: str):
        photo = self.session.photos.get(key)
        return self.session.cars().get(photo.car, []) if photo else []

    def _strip_keys(self) -> list[str]:
        return [self.strip.item(i).data(KEY_ROLE) for i in range(self.strip.count())]

    def _fill_strip(self, key: str = "") -> None:
        """The angles of `key`'s car (default: the photo shown or selected)."""
        key = key or self.current_key or self.queue.current_key()
        self.strip.blockSignals(True)
        self.strip.clear()
        for photo in self._car_photos(key):
            item = QListWidgetItem(photo.path.stem[-2:] if photo.path.stem[-2:].isdigit() else "")
            item.setData(KEY_ROLE, photo.key)
            item.setToolTip(photo.name)
            if photo.key in self.queue.thumbnails:
                item.setIcon(self.queue.thumbnails[photo.key])
            self.strip.addItem(item)
        self.strip.blockSignals(False)
        self._sync_strip(key)

    def _sync_strip(self, key: str) -> None:
        keys = self._strip_keys()
        if key and key not in keys and key in self.session.photos:  # another car
            self._fill_strip(key)
            return
        if key in keys:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(keys.index(key))
            self.strip.blockSignals(False)

    def _strip_changed(self, item, _previous) -> None:
        if item is not None:
            self.queue.select(item.data(KEY_ROLE))

    def step_angle(self, delta: int) -> None:
        photos = self._car_photos(self.current_key)
        keys = [p.key for p in photos]
        if self.current_key in keys:
            i = (keys.index(self.current_key) + delta) % len(keys)
            self.queue.select(keys[i])

    # -- export and closing ------------------------------------------------------------------
    def open_export(self) -> ExportDialog:
        self.save_touchup()
        dialog = ExportDialog(self.session, self.settings, self)
        dialog.show()
        self.export_dialog = dialog
        return dialog

    def _update_actions(self) -> None:
        busy = self.worker is not None
        self.start_action.setEnabled(not busy and bool(self.session.photos))
        self.pause_action.setEnabled(busy)
        self.cancel_action.setEnabled(busy)
        self.export_action.setEnabled(any(p.has_mask for p in self.session.photos.values()))
        self.model_combo.setEnabled(not busy)
        self.device_combo.setEnabled(not busy)

    def closeEvent(self, event: QCloseEvent) -> None:
        # ask every question first: a "No" to the second must not leave the first job stopped
        wizard = self.finetune_wizard
        training = wizard is not None and wizard.training
        if training and not wizard.ask_to_stop(self, "A model is training", "quit"):
            event.ignore()
            return
        if self.worker is not None:
            answer = QMessageBox.question(
                self,
                "A batch is running",
                "Stop the batch and quit? Finished photos and touch-ups are kept; the rest stay "
                "queued for next time.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if training:
            wizard.stop_and_wait()
        if self.worker is not None:
            self.worker.cancel()
            if self.thread is not None:
                self.thread.wait(60000)
        self.save_touchup()
        self.session.save()
        self.settings.set("window_geometry", self.saveGeometry())
        event.accept()
