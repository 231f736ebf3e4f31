"""`carmask-studio`: the desktop app entry point."""

from __future__ import annotations

import argparse
import logging
import os
import sys

# The app runs torch next to its own UI and worker threads: OpenMP threads that spin while they
# wait for a busy core made CPU segmentation ~25x slower in benchmarks; passive waiting does not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from PySide6.QtWidgets import QApplication

from app.settings import APPLICATION, ORGANIZATION, Settings


def apply_theme(theme: str) -> None:
    """qdarkstyle's dark or light palette (dark by default)."""
    app = QApplication.instance()
    try:
        import qdarkstyle
        from qdarkstyle.light.palette import LightPalette

        if theme == "light":
            sheet = qdarkstyle.load_stylesheet(qt_api="pyside6", palette=LightPalette)
        else:
            sheet = qdarkstyle.load_stylesheet(qt_api="pyside6")
    except ImportError:
        sheet = ""
    app.setStyleSheet(sheet)


def _log_to_file() -> None:
    from engine.library import user_data_dir

    folder = user_data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(folder / "carmask-studio.log")
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler, logging.StreamHandler()])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(prog="carmask-studio")
    parser.add_argument("photos", nargs="*", help="photos or folders to queue at start")
    args, qt_args = parser.parse_known_args(argv[1:])
    _log_to_file()
    app = QApplication([argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    settings = Settings()
    apply_theme(settings.get("theme"))
    from app.window import MainWindow

    window = MainWindow(settings=settings)
    window.show()
    if args.photos:
        window.add_paths(args.photos)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
