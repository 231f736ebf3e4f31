"""The minimal main window opens and shows the device and model, found off the UI thread."""

import pytest

pytest.importorskip("PySide6")

from app.main import MainWindow


def test_main_window_shows_device_and_model(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CARMASK_RESOURCES", str(tmp_path))  # nothing shipped there
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    assert "CarMask Studio" in window.windowTitle()
    qtbot.waitUntil(lambda: "…" not in window.device_label.text(), timeout=30000)
    assert window.device_label.text().startswith(("device: CPU", "device: CUDA"))
    assert "no default model" in window.model_label.text()
    window.grab().save(str(tmp_path / "window.png"))
    assert (tmp_path / "window.png").stat().st_size > 1000
