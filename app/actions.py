"""The main window's menus, toolbars and status bar.

Each `ActionSpec` says what a person sees (text, toolbar label, tooltip, shortcut), where it goes
(menu, toolbar) and what it does: a real callable of the window or one of its controllers
(`action_table`, napari's callbacks). `build_actions` makes the QActions in table order and
returns them as a typed record, `Actions` (labelme's `_Actions`); a `Special` entry is filled by
a function here (undo/redo from the document's undo group, the brush-size slider, the
background and theme submenus, Watch folder). `build_engine_toolbar` adds the model chooser,
`build_status_bar` the status bar's parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSlider,
    QStatusBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.controllers.batch import BatchController
from app.controllers.preview import PreviewController
from app.controllers.removal import RemovalController
from app.controllers.review import ReviewController
from app.controllers.watch_folder import WatchFolderFeed
from app.editor import MaskDocument, PreviewPane
from app.editor.tools import Tool
from app.settings import Settings
from app.widgets.model_combo import ModelCombo

Shortcut = str | QKeySequence.StandardKey | tuple[str, ...] | None


class Host(Protocol):
    """What the menus call on the window (the window is one)."""

    settings: Settings
    batch: BatchController
    removal: RemovalController
    review: ReviewController
    preview: PreviewController
    watch_feed: WatchFolderFeed
    pane: PreviewPane
    document: MaskDocument

    def add_paths(self, paths: list[str]) -> None: ...
    def open_export(self) -> object: ...
    def open_finetune(self) -> object: ...
    def clear_problems(self) -> None: ...
    def set_tool(self, tool: Tool) -> None: ...
    def apply_background(self, key: str, save: bool = False) -> None: ...
    def set_theme(self, theme: str) -> None: ...
    def close(self) -> bool: ...


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the field of `Actions` that holds the QAction ("" for none)
    text: str
    slot: Callable[..., object]  # what it does; a checkable action's is given `checked`
    menu: str
    shortcut: Shortcut = None
    tip: str = ""
    checkable: bool = False
    toolbar: bool = False
    short: str = ""  # the toolbar's label; menus show the full text
    separator: bool = False  # a separator before it in its menu
    bar_separator: bool = False  # a separator before it in the toolbar
    group: str = ""  # checkable actions of one group exclude each other


@dataclass(frozen=True)
class Special:
    """A place in the table filled by code: `fill(menu, toolbar)` returns what it made, by the
    `Actions` field that holds it."""

    fill: Callable[[QMenu, QToolBar], dict[str, Any]]
    menu: str
    separator: bool = False
    bar_separator: bool = False


@dataclass(frozen=True)
class Actions:
    """The window's actions, menus and main toolbar, by name."""

    add_files: QAction
    add_folder: QAction
    watch_folder: QAction
    stop_watching: QAction
    samples: QAction
    export: QAction
    start: QAction
    pause: QAction
    cancel: QAction
    rerun: QAction
    remove: QAction
    finetune: QAction
    undo: QAction
    redo: QAction
    brush: QAction
    eraser: QAction
    pan: QAction
    reset: QAction
    overlay: QAction
    prev_angle: QAction
    next_angle: QAction
    review_next: QAction
    accept: QAction
    review_filter: QAction
    brush_slider: QSlider
    brush_value: QLabel
    backgrounds: dict[str, QAction]
    menus: dict[str, QMenu]
    main_toolbar: QToolBar


def action_table(w: Host, parent: QWidget) -> tuple[ActionSpec | Special, ...]:
    """The menus and the main toolbar, in order."""
    key = QKeySequence.StandardKey
    batch, removal, review, pane, preview = w.batch, w.removal, w.review, w.pane, w.preview
    return (
        ActionSpec("add_files", "Add &photos…", lambda: add_files_dialog(w, parent), "&File",
                   key.Open, toolbar=True, short="Add photos"),
        ActionSpec("add_folder", "Add &folder…", lambda: add_folder_dialog(w, parent), "&File",
                   "Ctrl+Shift+O", toolbar=True),
        Special(lambda menu, _bar: add_watch_folder(w.watch_feed, parent, menu), "&File"),
        ActionSpec("samples", "Open &samples", lambda: open_samples(w), "&File",
                   tip="Queue the sample car"),
        ActionSpec("export", "&Export cutouts…", w.open_export, "&File", "Ctrl+E",
                   toolbar=True, short="Export", separator=True),
        ActionSpec("", "&Quit", w.close, "&File", key.Quit, separator=True),
        ActionSpec("start", "&Start", batch.start, "&Batch", "F5", toolbar=True,
                   bar_separator=True),
        ActionSpec("pause", "&Pause", batch.toggle_pause, "&Batch", "F6", checkable=True,
                   toolbar=True),
        ActionSpec("cancel", "&Cancel", batch.cancel, "&Batch", "Shift+F5", toolbar=True),
        ActionSpec("rerun", "&Run selected again", batch.rerun_selected, "&Batch",
                   "Ctrl+Shift+R", separator=True),
        ActionSpec("remove", "Re&move selected from queue", removal.remove_selected, "&Batch",
                   key.Delete),
        ActionSpec("", "Clear problem list", w.clear_problems, "&Batch"),
        ActionSpec("finetune", "&Fine-tune a model on my photos…", w.open_finetune, "&Models",
                   "Ctrl+Shift+T",
                   tip="Teach a model your cars, backdrops and taste from labelled photos"),
        Special(lambda menu, bar: add_undo_redo(w.document, parent, menu, bar), "&Edit",
                bar_separator=True),
        ActionSpec("brush", "&Brush (add car)", lambda: w.set_tool(Tool.BRUSH), "&Edit", "B",
                   checkable=True, toolbar=True, short="Brush", group="tools"),
        ActionSpec("eraser", "&Eraser (remove)", lambda: w.set_tool(Tool.ERASER), "&Edit", "E",
                   checkable=True, toolbar=True, short="Eraser", group="tools"),
        ActionSpec("pan", "&Hand (pan)", lambda: w.set_tool(Tool.PAN), "&Edit", "H",
                   checkable=True, toolbar=True, short="Hand", group="tools"),
        Special(lambda _menu, bar: add_brush_slider(pane, w.settings, bar), "&Edit"),
        ActionSpec("reset", "Reset to the &model's mask", preview.reset_mask, "&Edit",
                   "Ctrl+Shift+Backspace"),
        ActionSpec("", "Zoom to &fit", pane.zoom_fit, "&View", "Ctrl+0", toolbar=True,
                   short="Fit", bar_separator=True),
        ActionSpec("", "Zoom &100 %", pane.zoom_100, "&View", "Ctrl+1", toolbar=True,
                   short="100 %"),
        ActionSpec("", "Zoom &in", pane.zoom_in, "&View", key.ZoomIn),
        ActionSpec("", "Zoom &out", pane.zoom_out, "&View", key.ZoomOut),
        ActionSpec("overlay", "Mask &overlay", pane.set_overlay, "&View", "M",
                   checkable=True, toolbar=True, short="Overlay"),
        ActionSpec("prev_angle", "&Previous angle", lambda: preview.step_angle(-1), "&View",
                   ("Left", "PgUp"), separator=True),
        ActionSpec("next_angle", "&Next angle", lambda: preview.step_angle(1), "&View",
                   ("Right", "PgDown")),
        Special(lambda menu, _bar: add_view_submenus(w, parent, menu), "&View", separator=True),
        ActionSpec("review_next", "&Next photo to review", review.next_flagged, "&Review",
                   "N", tip="The least confident cutout not yet reviewed"),
        ActionSpec("accept", "&Accept this cutout", review.accept, "&Review", "A",
                   tip="Mark the cutout reviewed: it no longer needs a look"),
        ActionSpec("review_filter", "Show &only photos that need review",
                   review.show_only_flagged, "&Review", "Ctrl+Shift+N", checkable=True),
    )  # fmt: skip


def add_files_dialog(w: Host, parent: QWidget) -> None:
    """Choose photos to queue."""
    from engine.io import IMAGE_SUFFIXES

    patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
    files, _ = QFileDialog.getOpenFileNames(parent, "Add photos", "", f"Photos ({patterns})")
    if files:
        w.add_paths(files)


def add_folder_dialog(w: Host, parent: QWidget) -> None:
    """Choose a folder of photos to queue (searched recursively)."""
    folder = QFileDialog.getExistingDirectory(parent, "Add a folder of photos")
    if folder:
        w.add_paths([folder])


def add_watch_folder(feed: WatchFolderFeed, parent: QWidget, menu: QMenu) -> dict[str, Any]:
    """Watch folder… (a hot folder: new photos are queued and segmented) and Stop watching."""

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Watch a folder for new photos")
        if folder:
            feed.start(folder)

    made = {}
    for name, text, slot, tip in (
        ("watch_folder", "&Watch folder…", choose,
         "Queue and segment new photos as they land in a folder (a tethered camera, a card "
         "reader)"),
        ("stop_watching", "Stop &watching", feed.stop, "Stop watching the folder"),
    ):  # fmt: skip
        action = QAction(text, parent)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda *_, f=slot: f())
        menu.addAction(action)
        made[name] = action
    made["stop_watching"].setEnabled(feed.watching)
    feed.watching_changed.connect(made["stop_watching"].setEnabled)
    return made


def open_samples(w: Host) -> None:
    """Queue the shipped sample car."""
    from engine.modelfiles.library import resources_dir

    w.add_paths([str(resources_dir() / "samples")])


def _slot(spec: ActionSpec) -> Callable[..., object]:
    if spec.checkable and not spec.group:
        return spec.slot  # it takes `checked`
    slot = spec.slot
    return lambda *_: slot()  # `triggered(checked)` is not passed on


def make_action(parent: QWidget, spec: ActionSpec) -> QAction:
    """One QAction from its spec (tooltip with its shortcut, status tip)."""
    action = QAction(spec.text, parent)
    if spec.short:
        action.setIconText(spec.short)
    if spec.shortcut is not None:
        seqs = spec.shortcut if isinstance(spec.shortcut, tuple) else (spec.shortcut,)
        action.setShortcuts([QKeySequence(s) for s in seqs])
    label = spec.tip or spec.text.replace("…", "").replace("&", "")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{label} ({keys})" if keys else label)
    action.setStatusTip(label)
    action.setCheckable(spec.checkable)
    action.triggered.connect(_slot(spec))
    parent.addAction(action)
    return action


def add_undo_redo(
    document: MaskDocument, parent: QWidget, menu: QMenu, bar: QToolBar
) -> dict[str, Any]:
    """Undo/redo of the photo shown (each photo has its own history)."""
    group = document.undo_group  # each photo has its own history
    undo = group.createUndoAction(parent, "&Undo")
    undo.setShortcuts(QKeySequence.StandardKey.Undo)
    redo = group.createRedoAction(parent, "&Redo")
    redo.setShortcuts(QKeySequence.StandardKey.Redo)
    for a, short in ((undo, "Undo"), (redo, "Redo")):
        a.setIconText(short)
        keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        a.setToolTip(f"{short} the last brush stroke ({keys})")
        menu.addAction(a)
        bar.addAction(a)
    return {"undo": undo, "redo": redo}


def add_brush_slider(pane: PreviewPane, settings: Settings, bar: QToolBar) -> dict[str, Any]:
    """The brush size in photo pixels, and its value."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(1, 300)
    slider.setMaximumWidth(90)  # the toolbar fits 1280 px (and its value shows)
    slider.setToolTip("Brush size in photo pixels ([ smaller, ] larger)")
    bar.addWidget(slider)
    value = QLabel("")
    bar.addWidget(value)

    def slider_moved(size: int) -> None:
        if size != pane.brush_size:
            pane.set_brush_size(size)

    def size_shown(size: int) -> None:
        slider.blockSignals(True)
        slider.setValue(size)
        slider.blockSignals(False)
        value.setText(f" {size} px ")
        settings.brush_size = size  # every slider tick

    slider.valueChanged.connect(slider_moved)
    pane.brush_size_changed.connect(size_shown)
    return {"brush_slider": slider, "brush_value": value}


def add_view_submenus(w: Host, parent: QWidget, menu: QMenu) -> dict[str, Any]:
    """The preview's background and the app's theme."""
    bg = menu.addMenu("Cutout &background")
    group = QActionGroup(parent)
    backgrounds = {}
    for key, text in (("checker", "Checkerboard"), ("white", "White"), ("color", "Colour")):
        a = QAction(text, parent, checkable=True)
        a.triggered.connect(lambda _=False, k=key: w.apply_background(k, save=True))
        group.addAction(a)
        bg.addAction(a)
        backgrounds[key] = a
    theme = menu.addMenu("&Theme")
    tgroup = QActionGroup(parent)
    for key, text in (("dark", "Dark"), ("light", "Light")):
        a = QAction(text, parent, checkable=True)
        a.setChecked(w.settings.theme == key)
        a.triggered.connect(lambda _=False, k=key: w.set_theme(k))
        tgroup.addAction(a)
        theme.addAction(a)
    return {"backgrounds": backgrounds}


@dataclass(frozen=True)
class StatusParts:
    """The status bar's parts the window and the batch show things in."""

    rate_label: QLabel
    progress: QProgressBar
    device_combo: QComboBox
    device_label: QLabel
    model_label: QLabel


def make_status_parts(settings: Settings) -> StatusParts:
    from engine.inference.editions import has_torch

    progress = QProgressBar()
    progress.setMaximumWidth(220)
    progress.setVisible(False)
    device_combo = QComboBox()
    if has_torch():
        device_combo.addItems(["auto", "cpu", "cuda"])
        device_combo.setToolTip("auto: the GPU when there is one, else the CPU")
    else:  # the CPU edition: no CUDA to offer
        device_combo.addItems(["cpu"])
        device_combo.setToolTip("The CPU edition segments on the CPU; the full edition adds CUDA")
    device_combo.setCurrentText(settings.device)
    return StatusParts(QLabel(""), progress, device_combo, QLabel("device: …"), QLabel("model: …"))


def build_status_bar(bar: QStatusBar, parts: StatusParts, undo_button: QToolButton) -> None:
    """Rate, Undo remove, progress, the device chooser, device and model in the status bar."""
    bar.addWidget(parts.rate_label)
    bar.addPermanentWidget(undo_button)  # permanent: a message does not hide it
    bar.addPermanentWidget(parts.progress)
    # the device chooser beside what it resolved to, here: the toolbars fit 1280 px
    bar.addPermanentWidget(QLabel("Device"))
    bar.addPermanentWidget(parts.device_combo)
    bar.addPermanentWidget(parts.device_label)
    bar.addPermanentWidget(parts.model_label)


def build_engine_toolbar(window: QMainWindow) -> ModelCombo:
    """The model chooser (the device's is in the status bar)."""
    tb = window.addToolBar("Engine")
    tb.setObjectName("engine-toolbar")
    tb.setMovable(False)
    tb.addWidget(QLabel(" Model "))
    combo = ModelCombo()
    combo.setToolTip("The model (or ensemble) the batch uses")
    # as wide as a short name, not the longest in the library: both toolbars fit 1280 px; the
    # list that opens shows every name in full (app/controllers/model_picker.py)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(16)
    tb.addWidget(combo)
    return combo


def build_actions(window: QMainWindow, table: Sequence[ActionSpec | Special]) -> Actions:
    """Menus and the main toolbar of ``window`` from ``table``, in order."""
    menus: dict[str, QMenu] = {}
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)  # no grip: the width goes to the controls (all fit 1280 px)
    toolbar.setIconSize(QSize(18, 18))
    groups: dict[str, QActionGroup] = {}
    named: dict[str, Any] = {}
    for spec in table:
        menu = menus.get(spec.menu)
        new_menu = menu is None
        if menu is None:
            menu = menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        if spec.separator and not new_menu:
            menu.addSeparator()
        if spec.bar_separator:
            toolbar.addSeparator()
        if isinstance(spec, Special):
            named.update(spec.fill(menu, toolbar))
            continue
        action = make_action(window, spec)
        menu.addAction(action)
        if spec.toolbar:
            toolbar.addAction(action)
        if spec.group:
            groups.setdefault(spec.group, QActionGroup(window)).addAction(action)
        if spec.name:
            named[spec.name] = action
    return Actions(**named, menus=menus, main_toolbar=toolbar)
