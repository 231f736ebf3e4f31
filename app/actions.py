"""The main window's menus, toolbars and status bar; the menus and main toolbar as data.

Each `ActionSpec` says what a person sees (text, toolbar label, tooltip, shortcut), where it goes
(menu, toolbar) and what it does (a window slot by name, with arguments). `build_actions` makes
the QActions in table order; a `Special` entry is filled by a function here (undo/redo from the
document's undo group, the brush-size slider, the background and theme submenus).
`build_engine_toolbar` adds the model and device choosers.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QProgressBar, QSlider

from app.editor.tools import Tool
from app.model_combo import ModelCombo

Shortcut = str | QKeySequence.StandardKey | tuple[str, ...] | None


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the window attribute that holds the QAction ("" for none)
    text: str
    slot: str  # a window method, dotted for a part of it ("pane.zoom_fit"), or a function here
    menu: str
    shortcut: Shortcut = None
    tip: str = ""
    checkable: bool = False
    toolbar: bool = False
    short: str = ""  # the toolbar's label; menus show the full text
    args: tuple = ()
    separator: bool = False  # a separator before it in its menu
    bar_separator: bool = False  # a separator before it in the toolbar
    group: str = ""  # checkable actions of one group exclude each other


@dataclass(frozen=True)
class Special:
    """A place in the table filled by code (`SPECIALS[name](window, menu, toolbar)`)."""

    name: str
    menu: str
    separator: bool = False
    bar_separator: bool = False


_KEY = QKeySequence.StandardKey
ACTIONS: tuple[ActionSpec | Special, ...] = (
    ActionSpec("add_files_action", "Add &photos…", "add_files_dialog", "&File", _KEY.Open,
               toolbar=True, short="Add photos"),
    ActionSpec("add_folder_action", "Add &folder…", "add_folder_dialog", "&File", "Ctrl+Shift+O",
               toolbar=True),
    Special("watch_folder", "&File"),
    ActionSpec("samples_action", "Open &samples", "open_samples", "&File",
               tip="Queue the sample car"),
    ActionSpec("export_action", "&Export cutouts…", "open_export", "&File", "Ctrl+E",
               toolbar=True, short="Export", separator=True),
    ActionSpec("", "&Quit", "close", "&File", _KEY.Quit, separator=True),
    ActionSpec("start_action", "&Start", "batch.start", "&Batch", "F5", toolbar=True,
               bar_separator=True),
    ActionSpec("pause_action", "&Pause", "batch.toggle_pause", "&Batch", "F6", checkable=True,
               toolbar=True),
    ActionSpec("cancel_action", "&Cancel", "batch.cancel", "&Batch", "Shift+F5", toolbar=True),
    ActionSpec("rerun_action", "&Run selected again", "batch.rerun_selected", "&Batch",
               "Ctrl+Shift+R", separator=True),
    ActionSpec("remove_action", "Re&move selected from queue", "removal.remove_selected", "&Batch",
               _KEY.Delete),
    ActionSpec("", "Clear problem list", "clear_problems", "&Batch"),
    ActionSpec("finetune_action", "&Fine-tune a model on my photos…", "open_finetune", "&Models",
               "Ctrl+Shift+T",
               tip="Teach a model your cars, backdrops and taste from labelled photos"),
    Special("undo_redo", "&Edit", bar_separator=True),
    ActionSpec("brush_action", "&Brush (add car)", "set_tool", "&Edit", "B", checkable=True,
               toolbar=True, short="Brush", args=(Tool.BRUSH,), group="tools"),
    ActionSpec("eraser_action", "&Eraser (remove)", "set_tool", "&Edit", "E", checkable=True,
               toolbar=True, short="Eraser", args=(Tool.ERASER,), group="tools"),
    ActionSpec("pan_action", "&Hand (pan)", "set_tool", "&Edit", "H", checkable=True,
               toolbar=True, short="Hand", args=(Tool.PAN,), group="tools"),
    Special("brush_slider", "&Edit"),
    ActionSpec("reset_action", "Reset to the &model's mask", "reset_mask", "&Edit",
               "Ctrl+Shift+Backspace"),
    ActionSpec("", "Zoom to &fit", "pane.zoom_fit", "&View", "Ctrl+0", toolbar=True,
               short="Fit", bar_separator=True),
    ActionSpec("", "Zoom &100 %", "pane.zoom_100", "&View", "Ctrl+1", toolbar=True,
               short="100 %"),
    ActionSpec("", "Zoom &in", "pane.zoom_in", "&View", _KEY.ZoomIn),
    ActionSpec("", "Zoom &out", "pane.zoom_out", "&View", _KEY.ZoomOut),
    ActionSpec("overlay_action", "Mask &overlay", "pane.set_overlay", "&View", "M",
               checkable=True, toolbar=True, short="Overlay"),
    ActionSpec("prev_action", "&Previous angle", "step_angle", "&View", ("Left", "PgUp"),
               args=(-1,), separator=True),
    ActionSpec("next_action", "&Next angle", "step_angle", "&View", ("Right", "PgDown"),
               args=(1,)),
    Special("view_submenus", "&View", separator=True),
    ActionSpec("review_next_action", "&Next photo to review", "review.next_flagged", "&Review",
               "N", tip="The least confident cutout not yet reviewed"),
    ActionSpec("accept_action", "&Accept this cutout", "review.accept", "&Review", "A",
               tip="Mark the cutout reviewed: it no longer needs a look"),
    ActionSpec("review_filter_action", "Show &only photos that need review",
               "review.show_only_flagged", "&Review", "Ctrl+Shift+N", checkable=True),
)  # fmt: skip


def add_files_dialog(window) -> None:
    """Choose photos to queue."""
    from engine.io import IMAGE_SUFFIXES

    patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
    files, _ = QFileDialog.getOpenFileNames(window, "Add photos", "", f"Photos ({patterns})")
    if files:
        window.add_paths(files)


def add_folder_dialog(window) -> None:
    """Choose a folder of photos to queue (searched recursively)."""
    folder = QFileDialog.getExistingDirectory(window, "Add a folder of photos")
    if folder:
        window.add_paths([folder])


def add_watch_folder(window, menu, _bar) -> None:
    """Watch folder… (a hot folder: new photos are queued and segmented) and Stop watching."""
    from app.watch_folder import WatchFolderFeed

    window.watch_feed = WatchFolderFeed(window)

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(window, "Watch a folder for new photos")
        if folder:
            window.watch_feed.start(folder)

    for name, text, slot, tip in (
        ("watch_folder_action", "&Watch folder…", choose,
         "Queue and segment new photos as they land in a folder (a tethered camera, a card "
         "reader)"),
        ("stop_watching_action", "Stop &watching", lambda: window.watch_feed.stop(),
         "Stop watching the folder"),
    ):  # fmt: skip
        action = QAction(text, window)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda *_, f=slot: f())
        menu.addAction(action)
        setattr(window, name, action)
    window.stop_watching_action.setEnabled(False)
    window.watch_feed.resume()


def open_samples(window) -> None:
    """Queue the shipped sample car."""
    from engine.modelfiles.library import resources_dir

    window.add_paths([str(resources_dir() / "samples")])


def _slot(window, spec: ActionSpec):
    if spec.slot in _FUNCTIONS:  # a function of this module, given the window
        return lambda *_: _FUNCTIONS[spec.slot](window)
    target = window
    for part in spec.slot.split("."):
        target = getattr(target, part)
    if spec.args:
        return lambda *_: target(*spec.args)  # `triggered(checked)` is not passed on
    if spec.checkable:
        return target  # it takes `checked`
    return lambda *_: target()


def make_action(window, spec: ActionSpec) -> QAction:
    """One QAction of the window from its spec (tooltip with its shortcut, status tip)."""
    action = QAction(spec.text, window)
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
    action.triggered.connect(_slot(window, spec))
    window.addAction(action)
    return action


def add_undo_redo(window, menu, bar) -> None:
    """Undo/redo of the photo shown (each photo has its own history)."""
    group = window.document.undo_group  # each photo has its own history
    window.undo_action = group.createUndoAction(window, "&Undo")
    window.undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
    window.redo_action = group.createRedoAction(window, "&Redo")
    window.redo_action.setShortcuts(QKeySequence.StandardKey.Redo)
    for a, short in ((window.undo_action, "Undo"), (window.redo_action, "Redo")):
        a.setIconText(short)
        keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        a.setToolTip(f"{short} the last brush stroke ({keys})")
        menu.addAction(a)
        bar.addAction(a)


def add_brush_slider(window, _menu, bar) -> None:
    """The brush size in photo pixels, and its value."""
    window.brush_slider = QSlider(Qt.Orientation.Horizontal)
    window.brush_slider.setRange(1, 300)
    window.brush_slider.setMaximumWidth(90)  # the toolbar fits 1280 px (and its value shows)
    window.brush_slider.setToolTip("Brush size in photo pixels ([ smaller, ] larger)")
    bar.addWidget(window.brush_slider)
    window.brush_value = QLabel("")
    bar.addWidget(window.brush_value)
    pane = window.pane

    def slider_moved(value: int) -> None:
        if value != pane.brush_size:
            pane.set_brush_size(value)

    def size_shown(size: int) -> None:
        window.brush_slider.blockSignals(True)
        window.brush_slider.setValue(size)
        window.brush_slider.blockSignals(False)
        window.brush_value.setText(f" {size} px ")
        window.settings.brush_size = size  # every slider tick

    window.brush_slider.valueChanged.connect(slider_moved)
    pane.brush_size_changed.connect(size_shown)


def add_view_submenus(window, menu, _bar) -> None:
    """The preview's background and the app's theme."""
    bg = menu.addMenu("Cutout &background")
    group = QActionGroup(window)
    window.background_actions = {}
    for key, text in (("checker", "Checkerboard"), ("white", "White"), ("color", "Colour")):
        a = QAction(text, window, checkable=True)
        a.triggered.connect(lambda _=False, k=key: window._apply_background(k, save=True))
        group.addAction(a)
        bg.addAction(a)
        window.background_actions[key] = a
    theme = menu.addMenu("&Theme")
    tgroup = QActionGroup(window)
    for key, text in (("dark", "Dark"), ("light", "Light")):
        a = QAction(text, window, checkable=True)
        a.setChecked(window.settings.theme == key)
        a.triggered.connect(lambda _=False, k=key: window.set_theme(k))
        tgroup.addAction(a)
        theme.addAction(a)


def build_status_bar(window) -> None:
    """Rate, Undo remove, progress, the device chooser, device and model in the status bar."""
    window.device_label = QLabel("device: …")
    window.model_label = QLabel("model: …")
    window.progress = QProgressBar()
    window.progress.setMaximumWidth(220)
    window.progress.setVisible(False)
    window.rate_label = QLabel("")
    bar = window.statusBar()
    bar.addWidget(window.rate_label)
    bar.addPermanentWidget(window.removal.undo_button)  # permanent: a message does not hide it
    bar.addPermanentWidget(window.progress)
    # the device chooser beside what it resolved to, here: the toolbars fit 1280 px
    window.device_combo = QComboBox()
    window.device_combo.addItems(["auto", "cpu", "cuda"])
    window.device_combo.setCurrentText(window.settings.device)
    window.device_combo.setToolTip("auto: the GPU when there is one, else the CPU")
    window.device_combo.currentTextChanged.connect(window._device_chosen)
    bar.addPermanentWidget(QLabel("Device"))
    bar.addPermanentWidget(window.device_combo)
    bar.addPermanentWidget(window.device_label)
    bar.addPermanentWidget(window.model_label)


def build_engine_toolbar(window) -> None:
    """The model chooser (the device's is in the status bar)."""
    tb = window.addToolBar("Engine")
    tb.setObjectName("engine-toolbar")
    tb.setMovable(False)
    tb.addWidget(QLabel(" Model "))
    window.model_combo = ModelCombo()
    window.model_combo.setToolTip("The model (or ensemble) the batch uses")
    # as wide as a short name, not the longest in the library: both toolbars fit 1280 px; the
    # list that opens shows every name in full (app/model_picker.py)
    window.model_combo.setSizeAdjustPolicy(
        QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
    )
    window.model_combo.setMinimumContentsLength(16)
    tb.addWidget(window.model_combo)


_FUNCTIONS = {f.__name__: f for f in (add_files_dialog, add_folder_dialog, open_samples)}
SPECIALS = {
    "undo_redo": add_undo_redo,
    "brush_slider": add_brush_slider,
    "view_submenus": add_view_submenus,
    "watch_folder": add_watch_folder,
}


def build_actions(window, table=ACTIONS) -> None:
    """Menus and the main toolbar of ``window`` from ``table``, in order."""
    menus: dict = {}
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)  # no grip: the width goes to the controls (all fit 1280 px)
    toolbar.setIconSize(QSize(18, 18))
    groups: dict[str, QActionGroup] = {}
    for spec in table:
        menu = menus.get(spec.menu)
        new_menu = menu is None
        if new_menu:
            menu = menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        if spec.separator and not new_menu:
            menu.addSeparator()
        if spec.bar_separator:
            toolbar.addSeparator()
        if isinstance(spec, Special):
            SPECIALS[spec.name](window, menu, toolbar)
            continue
        action = make_action(window, spec)
        menu.addAction(action)
        if spec.toolbar:
            toolbar.addAction(action)
        if spec.group:
            groups.setdefault(spec.group, QActionGroup(window)).addAction(action)
        if spec.name:
            setattr(window, spec.name, action)
    window.menus = menus
    window.main_toolbar = toolbar
