"""Render the studio window to PNGs for the README and for review (offscreen, real model):
the main window with a processed car, the touch-up view and the export dialog.

    python scripts/screenshots.py [--photos FOLDER] [--model FILE] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _wait(app, condition, timeout=300.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT / "tests" / "data" / "carvana" / "val")
    parser.add_argument("--model", type=Path, help="model file (default: the shipped default)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="carmask-shots-"))
    if args.model:  # a library with just this model
        (work / "library").mkdir()
        shutil.copy(args.model, work / "library" / args.model.name)
        os.environ["CARMASK_LIBRARY"] = str(work / "library")

    from PySide6.QtCore import QPointF, QSettings
    from PySide6.QtWidgets import QApplication

    from app.main import apply_theme
    from app.settings import Settings
    from app.window import MainWindow

    app = QApplication([])
    apply_theme("dark")
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    if args.model:
        settings.set("model", str(work / "library" / args.model.name))
    window = MainWindow(session_dir=work / "session", settings=settings)
    window.resize(1500, 900)
    window.show()
    window.add_paths([str(args.photos)])
    _wait(app, lambda: window.session.photos)
    window.start_batch()
    _wait(app, lambda: not window.busy)
    first = next(iter(window.session.photos))
    window.queue.select(first)
    _wait(app, lambda: window.current_key == first)
    window.pane.zoom_fit()
    app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "main-window.png"))

    # touch-up: zoom in on the car's edge with the brush and the mask overlay on
    window.set_tool("brush")
    window.overlay_action.setChecked(True)
    window.pane.set_overlay(True)
    h, w = window.document.mask.shape
    window.pane.set_zoom(2.0 * window.pane.zoom, at=QPointF(w * 0.3, h * 0.6))
    window.pane.document.paint_stroke([(w * 0.25, h * 0.55), (w * 0.32, h * 0.57)], 6, add=True)
    app.processEvents()
    window.grab().save(str(args.out / "touch-up.png"))

    dialog = window.open_export()
    dialog.folder.setText(str(work / "export"))
    dialog.export_button.click()
    _wait(app, lambda: dialog.report is not None)
    app.processEvents()
    dialog.grab().save(str(args.out / "export-dialog.png"))
    dialog.close()
    window.close()
    print(f"screenshots in {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
