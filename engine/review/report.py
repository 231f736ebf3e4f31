"""`carmask predict --report FILE`: one JSON object per photo of the batch, as JSON lines.

Each line: `file`, `status` (done, failed, skipped, not started), `confidence` and `reasons`
(`engine.review.confidence`; done photos only), `seconds` (reading, segmenting and writing the
photo) and, for a photo that did not get done, `error`. Written atomically once the batch ends,
Ctrl-C included, so a reader never sees half a report."""

from __future__ import annotations

import json
from pathlib import Path

from engine.io import atomic_write_bytes
from engine.review.confidence import Confidence


class BatchReport:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict] = []

    def done(self, photo: Path, checked: Confidence, seconds: float) -> None:
        row = {"file": str(photo), "status": "done", **checked.to_json()}
        self.rows.append({**row, "seconds": round(seconds, 3)})

    def not_done(self, photo: Path, status: str, error: str) -> None:
        self.rows.append({"file": str(photo), "status": status, "error": error})

    def write(self) -> Path:
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows)
        return atomic_write_bytes(self.path, text.encode("utf-8"))
