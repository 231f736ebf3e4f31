"""`carmask-studio --self-test`: the real window segments one photo, and says how it went."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from app.theme import apply_theme

if TYPE_CHECKING:
    from app.window import MainWindow


class SelfTest:
    """`--self-test`: the real main window on a temporary session and temporary settings (the
    user's are never touched) queues one photo, runs the batch with the default model and
    waits for the photo to be done. One line on stdout says how it went; exit code 0 if done.

    Every step is asynchronous in the window (scan, model load, segmentation), so a timer polls
    the window's public state; a modal error dialog, a refused photo or the time limit end the
    test with a non-zero code and the reason."""

    POLL_MS = 50

    def __init__(self, app, photos: list[str], timeout: float):
        self.app, self.timeout = app, timeout
        self.photo_arg = photos[0] if photos else ""
        self.window: MainWindow | None = None
        self.state = "opening"
        self.t0 = time.perf_counter()
        self.t_batch = 0.0

    def _sample(self) -> Path:
        if self.photo_arg:
            return Path(self.photo_arg).resolve()
        from engine.io import find_images
        from engine.modelfiles.library import resources_dir

        found, _ = find_images([resources_dir() / "samples"])
        if not found:
            raise RuntimeError(f"no sample photo in {resources_dir() / 'samples'}")
        return Path(sorted(found)[0]).resolve()

    def run(self) -> int:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="carmask-self-test-") as tmp:
            try:
                code = self._run(Path(tmp))
            except Exception as exc:  # anything unexpected is a failed self-test, with reason
                code = self._fail(f"{type(exc).__name__}: {exc}")
            # a batch thread still running (failure or time-out) must not outlive the window
            if self.window is not None and self.window.worker is not None:
                self.window.worker.cancel()
                thread = self.window.batch.worker_thread
                if thread is not None and not thread.wait(10000):
                    sys.stdout.flush()
                    os._exit(code)
        return code

    @property
    def w(self) -> MainWindow:
        assert self.window is not None, "the window is opened first"
        return self.window

    def _run(self, tmp: Path) -> int:
        from PySide6.QtCore import QSettings, QTimer

        from app.settings import Settings
        from app.window import MainWindow

        self.photo = self._sample()
        store = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
        settings = Settings(store)
        apply_theme(settings.theme)
        self.window = MainWindow(session_dir=tmp / "session", settings=settings)
        self.w.show()
        # when the event loop first runs, the window is on screen: the smoke check measures the
        # start-up from this line (the wall-clock time, comparable across processes)
        QTimer.singleShot(0, lambda: print(f"self-test window up at {time.time():.3f}", flush=True))
        self.w.add_paths([str(self.photo)])
        self.state = "scanning"
        self.code: int | None = None
        timer = QTimer(interval=self.POLL_MS)
        timer.timeout.connect(self._poll)
        timer.start()
        code = self.app.exec()
        timer.stop()
        return code if self.code is None else self.code

    def _finish(self, code: int) -> None:
        self.code = code
        self.app.exit(code)  # leaves every event loop, including a modal dialog's

    def _fail(self, reason: str) -> int:
        print(f"self-test FAILED ({self.state}, {time.perf_counter() - self.t0:.1f} s): {reason}")
        sys.stdout.flush()
        self.code = 1
        self.app.exit(1)
        return 1

    def _queued(self):
        for photo in self.w.session.photos.values():
            if photo.path.resolve() == self.photo:
                return photo
        return None

    def _poll(self) -> None:
        if self.code is not None:
            return
        try:
            self._step()
        except Exception as exc:  # an exception in a Qt slot would only be printed
            self._fail(f"{type(exc).__name__}: {exc}")

    def _step(self) -> None:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QMessageBox

        w = self.w
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QMessageBox):
            modal.close()
            self._fail(f"{modal.windowTitle()}: {modal.text()}")
            return
        if time.perf_counter() - self.t0 > self.timeout:
            self._fail(f"timed out after {self.timeout:.0f} s")
            return
        if self.state == "scanning":
            photo = self._queued()
            if photo is None:
                if w.session.problems:
                    path, reason = w.session.problems[0]
                    self._fail(f"{path.name} was not queued: {reason}")
                return
            # started from its own timer event: a modal "no model" dialog inside start_batch()
            # must not block this poll, which closes it and reports it
            self.state = "starting"
            QTimer.singleShot(0, self._start_batch)
        elif self.state == "segmenting":
            from app.session import DONE, FAILED

            photo = self._queued()
            if photo is not None and photo.status == FAILED:
                self._fail(f"{photo.name} failed: {photo.error}")
            elif photo is not None and photo.status == DONE:
                self.state = "finishing"
            elif not w.busy:
                self._fail("the batch ended without segmenting the photo")
        elif self.state == "finishing" and not w.busy:
            self._report(self._queued())

    def _start_batch(self) -> None:
        self.t_batch = time.perf_counter()
        self.state = "segmenting"
        self.w.batch.start()

    def _report(self, photo) -> None:
        mask = self.w.session.model_mask(photo)
        if mask is None:
            self._fail("the photo is done but its mask cannot be read")
            return
        fraction = float((mask > 0).mean())
        if not 0.0 < fraction < 1.0:
            self._fail(f"the mask is {'empty' if fraction == 0 else 'full'}")
            return
        device = self.w.device_label.text().removeprefix("device: ")
        total = time.perf_counter() - self.t0
        print(
            f"self-test ok: device {device}; model {photo.model}; photo {photo.name} "
            f"{photo.size[0]}x{photo.size[1]}; segmented in {photo.seconds:.2f} s "
            f"(batch {time.perf_counter() - self.t_batch:.2f} s, total {total:.2f} s); "
            f"car fraction {fraction:.4f}"
        )
        sys.stdout.flush()
        self.w.close()
        self._finish(0)
