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


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", [(1400, 800), (1280, 720)])
def test_every_toolbar_control_is_visible_at_the_usual_window_sizes(
    qtbot, open_window, size, theme
):
    from PySide6.QtWidgets import QApplication

    from app.theme import apply_theme

    apply_theme(theme)  # the app's real look: the theme's padding widens every control
    try:
        window = open_window()
        window.resize(*size)
        qtbot.waitUntil(lambda: window.width() == size[0], timeout=5000)
        qtbot.wait(50)  # the toolbars lay out
        assert _hidden_controls(window) == []
        for bar in window.findChildren(QToolBar):
            overflow = bar.findChild(QToolButton, "qt_toolbar_ext_button")
            assert overflow is None or not overflow.isVisible(), bar.windowTitle()
        assert window.model_combo.isVisible() and window.device_combo.isVisible()
    finally:
        QApplication.instance().setStyleSheet("")


def test_the_model_picker_names_the_default_model_and_cuts_no_name_mid_word(
    qtbot, open_window, tmp_path, monkeypatch, trained_model
):
    from engine.modelfiles.checkpoint import read_header
    from engine.modelfiles.library import default_model_paths
    from engine.training.finetune import install_model

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


def test_the_preview_names_photo_angle_and_zoom_and_keeps_zoom_across_angles(
    qtbot, open_window, carvana
):
    window = open_window()
    window.resize(1280, 720)
    angles = [carvana / "val" / f"1a17a1bd648b_{n}.jpg" for n in ("03", "07", "14")]
    window.add_paths([str(p) for p in angles])
    qtbot.waitUntil(lambda: len(window.session.photos) == 3, timeout=10000)
    keys = [p.key for p in window.preview.car_photos(next(iter(window.session.photos)))]
    window.queue.select(keys[0])
    qtbot.waitUntil(lambda: window.preview.current_key == keys[0], timeout=10000)
    pane, caption = window.pane, window.caption
    name = window.session.photos[keys[0]].name
    assert name in caption.photo.text() and "angle 03 (1 of 3)" in caption.photo.text()
    assert caption.zoom.text() == f"Zoom {pane.zoom * 100:.0f} %"

    pane.set_zoom(2.0)  # a detail, 200 %
    view = pane.original_view
    view.horizontalScrollBar().setValue(300)
    view.verticalScrollBar().setValue(120)
    qtbot.wait(100)  # the views settle
    position = (view.horizontalScrollBar().value(), view.verticalScrollBar().value())
    assert position != (0, 0) and caption.zoom.text() == "Zoom 200 %"
    window.preview.step_angle(1)
    qtbot.waitUntil(lambda: window.preview.current_key == keys[1], timeout=10000)
    qtbot.wait(50)
    assert pane.zoom == 2.0 and caption.zoom.text() == "Zoom 200 %"
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == position
    assert "angle 07 (2 of 3)" in caption.photo.text()
    assert window.session.photos[keys[1]].name in caption.photo.text()
    assert caption.isVisible() and caption.zoom.isVisible()


def _contrast(a, b) -> float:
    """WCAG contrast ratio of two QColors (4.5 or more: readable text)."""

    def luminance(c) -> float:
        rgb = [v / 255 for v in (c.red(), c.green(), c.blue())]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_needs_review_stays_readable_in_the_light_theme(qtbot, open_window, carvana):
    from PySide6.QtGui import QColor

    from app.session import DONE

    window = open_window()
    window.add_paths([str(carvana / "val" / "1a17a1bd648b_07.jpg")])
    qtbot.waitUntil(lambda: len(window.session.photos) == 1, timeout=10000)
    photo = next(iter(window.session.photos.values()))
    window.model.set_status(photo, DONE, confidence=0.2)  # a doubtful cutout; the queue follows
    try:
        window.set_theme("light")
        item = window.queue.items[photo.key]
        assert "needs review" in item.text(1)
        background = window.queue.palette().base().color()
        assert background.lightness() > 200  # the light theme's list
        assert _contrast(item.foreground(1).color(), background) >= 4.5
        line = QColor(window.review.line.styleSheet().split("color:")[1].split(";")[0].strip())
        assert _contrast(line, background) >= 4.5
    finally:
        window.set_theme("dark")
