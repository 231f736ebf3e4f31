"""`carmask-studio`: the desktop app entry point.

Until the studio app (batch queue, preview, touch-up, export) lands, this opens the main window
with the model and device it will use; the engine is queried on a worker thread.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from engine import __version__


class _EngineInfo(QObject):
    ready = Signal(str, str)


class _EngineProbe(QRunnable):
    """Finds the default model and the device off the UI thread (importing torch is slow)."""

    def __init__(self, signals: _EngineInfo):
        super().__init__()
        self.signals = signals

    def run(self) -> None:
        from engine.checkpoint import ModelFileError, read_header
        from engine.library import NoModelError, default_model_paths
        from engine.predict import describe_device, resolve_device

        try:
            model = read_header(default_model_paths()[0]).label
        except (NoModelError, ModelFileError) as exc:
            model = str(exc)
        self.signals.ready.emit(describe_device(resolve_device("auto")), model)


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle(f"CarMask Studio {__version__}")
        self.resize(960, 600)
        body = QWidget()
        layout = QVBoxLayout(body)
        title = QLabel("CarMask Studio")
        title.setStyleSheet("font-size: 28px; font-weight: bold;")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Background removal for studio car photos.\n"
            "Use the command line for now: carmask predict PHOTOS --out FOLDER"
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addStretch()
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addStretch()
        self.setCentralWidget(body)
        self.device_label = QLabel("device: …")
        self.model_label = QLabel("model: …")
        self.statusBar().addWidget(self.device_label)
        self.statusBar().addPermanentWidget(self.model_label)
        self._info = _EngineInfo()
        self._info.ready.connect(self._show_engine)
        QThreadPool.globalInstance().start(_EngineProbe(self._info))

    def _show_engine(self, device: str, model: str) -> None:
        self.device_label.setText(f"device: {device}")
        self.model_label.setText(f"model: {model}")


def main(argv: list[str] | None = None) -> int:
    app = QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("CarMask Studio")
    try:
        import qdarkstyle

        app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6"))
    except ImportError:
        pass
    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
