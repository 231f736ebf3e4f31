"""The main window's layout at the sizes operators use (offscreen, the real window)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QToolBar, QToolButton


def _hidden_controls(window) -> list[str]:
    """Toolbar controls not shown (pushed behind the toolbar's › overflow button)."""
    hidden = []
    for bar in window.findChildren(QToolBar):
        for action in bar.actions():
            widget = bar.widgetForAction(action)
            if action.isSeparator() or widget is None:
                continue
            if not widget.isVisible():
                hidden.append(action.iconText() or widget.toolTip() or type(widget).__name__)
    return hidden


@pytest.mark.parametrize("size", [(1400, 800), (1280, 720)])
def test_every_toolbar_control_is_visible_at_the_usual_window_sizes(qtbot, open_window, size):
    window = open_window()
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0], timeout=5000)
    qtbot.wait(50)  # the toolbars lay out
    assert _hidden_controls(window) == []
    for bar in window.findChildren(QToolBar):
        overflow = bar.findChild(QToolButton, "qt_toolbar_ext_button")
        assert overflow is None or not overflow.isVisible(), bar.windowTitle()
    assert window.model_combo.isVisible() and window.device_combo.isVisible()


def test_the_model_picker_names_the_default_model_and_cuts_no_name_mid_word(
    qtbot, open_window, tmp_path, monkeypatch, trained_model
):
    from engine.checkpoint import read_header
    from engine.finetune import install_model
    from engine.library import default_model_paths

    library = tmp_path / "library"
    monkeypatch.setenv("CARMASK_LIBRARY", str(library))
    name = "Winter gallery shoot fine-tuned on the dealer's long white backdrop"
    long_one = install_model(trained_model, name, library)
    window = open_window()
    window.resize(1280, 720)
    combo = window.model_combo
    default = read_header(default_model_paths()[0]).name
    assert combo.itemText(0) == f"Default model ({default})"
    combo.setCurrentIndex(0)
    assert default in window.model_label.text() and default in combo.toolTip()

    combo.setCurrentIndex(combo.findData([str(long_one), [str(long_one)]]))
    shown = combo.shown_text()
    assert shown != name and shown.endswith("…")  # too long for the toolbar: cut...
    kept = shown.removesuffix("…")
    assert name.startswith(kept) and name[len(kept)] in " -_("  # ...after a whole word
    assert name in window.model_label.text()  # and named in full in the status bar

    combo.showPopup()  # the list names every model in full
    metrics = combo.view().fontMetrics()
    widest = max(metrics.horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
    assert combo.view().viewport().width() >= widest
    combo.hidePopup()
