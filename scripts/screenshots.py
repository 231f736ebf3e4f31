"""Render the studio window to PNGs for the README and for review (offscreen, real model):
the main window with a processed car, the touch-up view, the export dialog and the four pages of
the fine-tuning wizard (a short real training on `--labelled` photos).

    python scripts/screenshots.py [--photos FOLDER] [--model FILE] [--labelled FOLDER]
                                  [--out docs/screenshots] [--no-wizard]
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


def _labelled_from_tests(folder: Path) -> Path:
    """The test photos of 4 cars with their masks, in one Kaggle-layout folder."""
    carvana = ROOT / "tests" / "data" / "carvana"
    for split in ("train", "val"):
        for kind in (split, f"{split}_masks"):
            dest = folder / ("train" if kind == split else "train_masks")
            dest.mkdir(parents=True, exist_ok=True)
            for f in (carvana / kind).iterdir():
                shutil.copy(f, dest / f.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT / "tests" / "data" / "carvana" / "val")
    parser.add_argument("--model", type=Path, help="model file (default: the shipped default)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--labelled", type=Path, help="photos with masks for the wizard (default: tests/data)"
    )
    parser.add_argument("--epochs", type=int, default=3, help="the wizard's short training")
    parser.add_argument(
        "--no-wizard", action="store_true", help="the window and export only (no training)"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="carmask-shots-"))
    os.environ["CARMASK_DATA"] = str(work / "data")  # wizard runs stay out of the user's data
    if args.model:  # a library with just this model
        (work / "library").mkdir()
        shutil.copy(args.model, work / "library" / args.model.name)
        os.environ["CARMASK_LIBRARY"] = str(work / "library")

    from PySide6.QtCore import QPointF, QSettings
    from PySide6.QtWidgets import QApplication

    from app.settings import Settings
    from app.theme import apply_theme
    from app.window import MainWindow

    app = QApplication([])
    apply_theme("dark")
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    if args.model:
        settings.set("model", str(work / "library" / args.model.name))
    window = MainWindow(session_dir=work / "session", settings=settings)
    window.resize(1280, 720)  # issue 32: the screens are judged at 1280x720
    window.show()
    window.add_paths([str(args.photos)])
    _wait(app, lambda: window.session.photos)
    window.acts.start.trigger()
    _wait(app, lambda: not window.busy)
    first = next(iter(window.session.photos))
    window.queue.select(first)
    _wait(app, lambda: window.preview.current_key == first)
    window.pane.zoom_fit()
    app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "main-window.png"))

    # touch-up: zoom in on the car's edge with the brush and the mask overlay on
    window.set_tool("brush")
    window.acts.overlay.setChecked(True)
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
    if not args.no_wizard:
        _wizard(app, window, args, work)
    window.close()
    print(f"screenshots in {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _wizard(app, window, args, work: Path) -> None:
    """The four pages of the fine-tuning wizard, with a short real training."""
    wizard = window.open_finetune()
    labelled = args.labelled or _labelled_from_tests(work / "labelled")
    wizard.data_page.folder_edit.setText(str(labelled))
    wizard.data_page.scan(str(labelled))
    _wait(app, lambda: not wizard.data_page.scanning)
    wizard.grab().save(str(args.out / "finetune-data.png"))
    wizard.next()
    setup = wizard.setup_page
    _wait(app, lambda: setup.base.count() > 0)
    setup.epochs.setValue(args.epochs)
    _wait(app, lambda: "steps of" in setup.estimate_label.text())
    wizard.grab().save(str(args.out / "finetune-setup.png"))
    wizard.next()
    _wait(app, lambda: wizard.training_page.outcome != "", timeout=1800)
    wizard.grab().save(str(args.out / "finetune-training.png"))
    wizard.next()
    _wait(app, lambda: wizard.result_page.comparison is not None, timeout=900)
    app.processEvents()
    wizard.grab().save(str(args.out / "finetune-result.png"))
    wizard.reject()


if __name__ == "__main__":
    sys.exit(main())
