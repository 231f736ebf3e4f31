"""The training child process: `engine.train` in its own process (a crash or a GPU running out
of memory cannot take the app down), its JSON events turned into Qt signals."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, cast

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

import engine
from engine.training.events import read_events
from engine.training.finetune import child_command

log = logging.getLogger(__name__)
KILL_AFTER_MS = 60_000  # a child that does not stop this long after Stop is terminated
TERMINATE_GRACE_MS = 5_000  # and killed if it ignores the termination this long
STDERR_LINES = 40


class TrainProcess(QObject):
    engine_event = Signal(dict)  # one engine event (start, step, epoch, checkpoint, log, ...)
    finished = Signal(int, str)  # exit code (-1: crashed or killed), the end of its stderr

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.cancel_file: Path | None = None
        self._buffer = b""
        self._stderr: list[str] = []
        self._kill_timer = QTimer(self, singleShot=True, interval=KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self._force_stop)
        self._hard_kill_timer = QTimer(self, singleShot=True, interval=TERMINATE_GRACE_MS)
        self._hard_kill_timer.timeout.connect(self._kill)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def start(self, config_path: Path, cancel_file: Path) -> None:
        self.cancel_file = cancel_file
        cancel_file.unlink(missing_ok=True)
        self._buffer, self._stderr = b"", []
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("OMP_WAIT_POLICY", "PASSIVE")
        source_root = str(Path(engine.__file__).resolve().parent.parent)
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", source_root + (os.pathsep + path if path else ""))
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(config_path.parent))
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        command = child_command(config_path)
        log.info("training child: %s", " ".join(command))
        self.proc = proc
        proc.start(command[0], command[1:])

    def stop(self) -> None:
        """Ask the child to stop at its next step; it saves its state and keeps the best model.
        If it does not stop in time it is terminated (the best model on disk stays)."""
        if not self.running:
            return
        if self.cancel_file is not None:
            self.cancel_file.write_text("stop")
        self._kill_timer.start()

    def stop_and_wait(self, ms: int = KILL_AFTER_MS) -> None:
        """Stop, and block until the child has ended (the app is quitting); kill it after `ms`."""
        proc = self.proc
        self.stop()
        if proc is not None and not proc.waitForFinished(ms):
            proc.kill()
            proc.waitForFinished(TERMINATE_GRACE_MS)

    def _force_stop(self) -> None:
        """Terminate a child that ignored Stop; kill it if it ignores that too (no blocking)."""
        if self.proc is not None and self.running:
            log.warning("training child did not stop in time: terminating it")
            self.proc.terminate()
            self._hard_kill_timer.start()

    def _kill(self) -> None:
        if self.proc is not None and self.running:
            log.warning("training child ignored the termination: killing it")
            self.proc.kill()

    def _read_stdout(self) -> None:
        if self.proc is None:
            return
        self._buffer += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        text = [raw.decode("utf-8", "replace") for raw in lines]
        for event in read_events(cast(IO[str], text)):  # any iterable of lines will do
            self.engine_event.emit(event)

    def _read_stderr(self) -> None:
        if self.proc is None:
            return
        text = bytes(self.proc.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            log.info("training child: %s", line)
            self._stderr.append(line)
        del self._stderr[:-STDERR_LINES]

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            why = self.proc.errorString() if self.proc is not None else "no process"
            self._stderr.append(f"the training process could not start ({why})")
            self._finished(-1, QProcess.ExitStatus.CrashExit)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.proc is None:
            return
        self._kill_timer.stop()
        self._hard_kill_timer.stop()
        self._read_stdout()
        self._read_stderr()
        if self._buffer:
            self._buffer += b"\n"
            self._read_stdout()
        crashed = status == QProcess.ExitStatus.CrashExit
        proc, self.proc = self.proc, None
        proc.deleteLater()
        self.finished.emit(-1 if crashed else code, "\n".join(self._stderr))
