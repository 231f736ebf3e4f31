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
