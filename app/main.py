"""`carmask-studio`: the desktop app entry point.

carmask-studio [PHOTOS...]                 open the studio (and queue these photos)
carmask-studio --self-test [PHOTO]         open the window, segment one photo, exit 0 if it worked
carmask-studio --engine-train --config F   (frozen bundle only) the training child process
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from engine.training.config import TRAIN_CHILD_FLAG  # torch-free

# The app runs torch next to its own UI and worker threads: OpenMP threads that spin while they
# wait for a busy core made CPU segmentation ~25x slower in benchmarks; passive waiting does not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# PySide6 is imported inside the functions below, not here: a frozen bundle has no Python to run
# `python -m engine.train`, so the wizard starts the bundle's own executable with
# `--engine-train`, and that training child must not load Qt.
SELF_TEST_TIMEOUT_S = 120.0


def _log_to_file() -> None:
    from engine.modelfiles.library import user_data_dir

    folder = user_data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(folder / "carmask-studio.log")
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler, logging.StreamHandler()])


def _engine_train(args: list[str]) -> int:
    """The fine-tuning wizard's training child inside a frozen bundle (no Qt is loaded)."""
    from engine.train import main as train_main

    return train_main(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) > 1 and argv[1] == TRAIN_CHILD_FLAG:
        return _engine_train(list(argv[2:]))

    parser = argparse.ArgumentParser(prog="carmask-studio")
    parser.add_argument("photos", nargs="*", help="photos or folders to queue at start")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window with a temporary session and settings, segment one photo (the "
        "first given, else a shipped sample), print the result and exit: 0 if it worked",
    )
    parser.add_argument(
        "--self-test-timeout",
        type=float,
        default=SELF_TEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up after this long (default {SELF_TEST_TIMEOUT_S:.0f})",
    )
    args, qt_args = parser.parse_known_args(argv[1:])

    from app.platform_check import xcb_problem

    if problem := xcb_problem():  # Qt would abort with a plugin error: say what to install
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANIZATION, Settings
    from app.theme import ICON_NAME, app_icon, apply_theme
    from engine import __version__

    if args.self_test:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    else:
        _log_to_file()
    app = QApplication([argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(ICON_NAME)  # matches carmask-studio.desktop (Wayland, taskbars)
    app.setWindowIcon(app_icon())
    if args.self_test:
        from app.self_test import SelfTest

        return SelfTest(app, args.photos[:1], args.self_test_timeout).run()

    settings = Settings()
    apply_theme(settings.theme)
    from app.window import MainWindow

    window = MainWindow(settings=settings)
    window.show()
    if args.photos:
        window.add_paths(args.photos)
    code = app.exec()
    # a task still running (the device probe importing torch, a model loading) ends before the
    # interpreter shuts down under it, which would print a traceback on a quick quit
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(10_000)
    return code


if __name__ == "__main__":
    sys.exit(main())
