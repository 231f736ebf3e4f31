"""The batch manifest: what has been cut out in an output folder, so a rerun redoes only the rest.

The folder's one ledger, `.carmask-outputs.jsonl` (`engine.batch.outputs`: its file lines and
claims), holds one JSON line per photo finished (or failed) too: the photo, the SHA-256 of its
bytes, the digest of the models and settings that cut it out, the export options, the output
files written and the status. The last line of a photo wins. A photo counts as done when its
last line is "done" with the same input digest, model digest and export options, and every
output it names is still in the folder; anything else (a new or changed photo, another model, a
lost output) is done again. Lines are appended and fsynced one at a time, so a crash, a lost
node or Ctrl-C loses at most the photos in flight, and a line cut short by a crash is ignored.

Used by `carmask predict` (with or without `--ray`: `engine.cluster`) and `carmask watch`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.batch.outputs import MANIFEST_NAME
from engine.inference.backends.cache import SOURCE
from engine.inference.config import PredictConfig
from engine.io import OutputWriteError, os_error_reason
from engine.io.digest import bytes_digest, file_digest

__all__ = [
    "MANIFEST_FILE",
    "Entry",
    "Manifest",
    "bytes_digest",
    "file_digest",
    "mask_settings",
    "model_digest",
    "options_key",
]

MANIFEST_FILE = MANIFEST_NAME  # one ledger per folder: the outputs record's file
# before the one ledger, `--ray` and `watch` kept photo lines here: still read (never written),
# so a folder done by an older version is not done again
LEGACY_MANIFEST_FILE = ".carmask-manifest.jsonl"
DONE, FAILED = "done", "failed"


def model_digest(models: Iterable[str | os.PathLike[str]], **settings: object) -> str:
    """One digest for the model files (their bytes, in order) and the settings that change the
    masks they make (test-time augmentation, the ensemble's vote, precision). A converted
    model's folder (the CPU edition's `--model FOLDER`) counts by its sidecar, which holds the
    SHA-256 of every file in it."""
    h = hashlib.sha256()
    for m in models:
        h.update(file_digest(Path(m) / SOURCE if Path(m).is_dir() else m).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return "sha256:" + h.hexdigest()


def mask_settings(config: PredictConfig) -> dict:
    """The prediction settings that change the masks (for `model_digest`), as the strings of
    their command-line options."""
    settings: dict[str, object] = {
        "tta": config.tta,
        "vote": config.vote.value,
        "precision": config.precision.value,
        "backend": config.backend.value,
    }
    if config.keep_all_objects:  # the main-object step off (engine.matte)
        settings["main_object"] = "off"
    return settings


def options_key(formats: Iterable[str], background: tuple[int, int, int]) -> str:
    """The export options a photo's outputs were written with, as a short string."""
    colour = "".join(f"{int(c):02x}" for c in background)
    return f"{'+'.join(sorted(formats))};bg={colour}"


@dataclass
class Entry:
    photo: str  # the photo's absolute path (or URI)
    digest: str  # sha256 of its bytes
    model: str  # `model_digest`
    options: str  # `options_key`
    status: str  # "done" or "failed"
    outputs: dict[str, str] = field(default_factory=dict)  # format -> file name in the folder
    reason: str = ""  # why it failed
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


class Manifest:
    """The manifest of one output folder (read once, appended to as photos finish)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_FILE
        self._lock = threading.Lock()
        self.entries: dict[str, Entry] = {}
        lines: list[str] = []
        for path in (self.folder / LEGACY_MANIFEST_FILE, self.path):  # the old file first
            with contextlib.suppress(OSError, UnicodeDecodeError):
                # only "\n" ends a line: a name may hold U+2028 or U+0085 (splitlines splits there)
                lines += path.read_text(encoding="utf-8").split("\n")
        for line in lines:
            try:
                entry = Entry(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a file line or a claim (`engine.batch.outputs`), or a line cut short
            self.entries[entry.photo] = entry

    @staticmethod
    def key(photo: str | os.PathLike[str]) -> str:
        text = str(photo)
        return text if "://" in text else os.path.abspath(text)

    def expected_digest(self, photo: str | os.PathLike[str], model: str, options: str) -> str:
        """The digest the photo must still have to count as done ("" when it must be done
        anyway: no line, a failure, other models or options, or an output missing)."""
        e = self.entries.get(self.key(photo))
        if e is None or e.status != DONE or e.model != model or e.options != options:
            return ""
        if not all((self.folder / name).is_file() for name in e.outputs.values()):
            return ""
        return e.digest

    def is_done(self, photo: str | os.PathLike[str], digest: str, model: str, options: str) -> bool:
        expected = self.expected_digest(photo, model, options)
        return bool(expected) and expected == digest

    def done_outputs(self) -> Mapping[str, dict[str, str]]:
        """Every photo done, with its outputs, in the order first recorded."""
        return {k: e.outputs for k, e in self.entries.items() if e.status == DONE}

    def record(self, entry: Entry) -> None:
        """Append one line and fsync it (thread-safe)."""
        entry.photo = self.key(entry.photo)
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(entry.to_json() + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                raise OutputWriteError(self.path, os_error_reason(exc)) from exc
            self.entries[entry.photo] = entry


class Ledger:
    """A batch's use of its folder's manifest: the digest each photo must still have to be
    skipped (none when `skip` is off: a listing or a report needs every photo's mask), and a line
    per photo finished or failed."""

    def __init__(
        self, folder: str | os.PathLike[str], model: str, options: str, skip: bool = True
    ) -> None:
        self.manifest = Manifest(folder)
        self.model, self.options, self.skip = model, options, skip

    def expect(self, photo: str | os.PathLike[str]) -> str:
        return self.manifest.expected_digest(photo, self.model, self.options) if self.skip else ""

    def done(
        self, photo: str | os.PathLike[str], digest: str, outputs: Mapping[str, Any], seconds=0.0
    ) -> None:
        names = {f: Path(p).name for f, p in outputs.items()}
        entry = Entry(str(photo), digest, self.model, self.options, DONE, names)
        entry.seconds = round(float(seconds), 3)
        self.manifest.record(entry)

    def failed(self, photo: str | os.PathLike[str], digest: str, reason: str) -> None:
        self.manifest.record(
            Entry(str(photo), digest, self.model, self.options, FAILED, reason=reason)
        )
