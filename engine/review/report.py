"""`carmask predict --report FILE`: one JSON object per photo of the batch, as JSON lines.

Each line: `file`, `status` (done, failed, skipped, not started), `confidence` and `reasons`
(`engine.review.confidence`; done photos only), `needs_review` (true or false, by the studio's
rule, `engine.review.verdict`; done photos only), `main_object` (what the main-object step
dropped and filled, `engine.matte.select`, or that it was off), `seconds` (reading, segmenting
and writing the photo) and, for a photo that did not get done, `error`; `notes` where the batch
did something for the photo its user should know of (a listing name made from the car's id).
Written atomically once the batch ends, Ctrl-C included, so a reader never sees half a report.
It replaces only an earlier report (a file that is, line by line, what this module writes).

The checks across a car's angles (`engine.review.angles`) run when the report is written: a
photo they flag gets their reasons too, and its confidence is at most `FLAGGED_IN_SET`; the
angles a set lacks are named on its first photo, but (as in the studio) make it need no review."""

from __future__ import annotations

import json
from pathlib import Path

from engine.io import OutputWriteError, atomic_write_bytes
from engine.review.angles import Outline, check_sets, outline_of
from engine.review.confidence import Confidence
from engine.review.verdict import needs_review

FLAGGED_IN_SET = 0.5
STATUSES = ("done", "failed", "skipped", "not started")


class BatchReport:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict] = []
        self._outlines: dict[Path, Outline | None] = {}
        self._row_of: dict[Path, dict] = {}
        self._value: dict[Path, float] = {}  # the unrounded confidence, for the verdict
        self._notes: dict[str, list[str]] = {}

    @staticmethod
    def is_report(path: Path) -> bool:
        """An earlier report, which a new one may replace: empty, or every line a JSON object
        with a file and one of the statuses this module writes (a blank line, `{}` or any other
        text below a report-like first line is somebody else's file)."""
        try:
            with path.open(encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    if not (
                        line.endswith("\n")
                        and isinstance(row, dict)
                        and isinstance(row.get("file"), str)
                        and row.get("status") in STATUSES
                    ):
                        return False
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return True

    def done(
        self, photo: Path, mask, checked: Confidence, seconds: float, steps: dict | None = None
    ) -> None:
        """A photo done; `steps`: what was done to its mask (`engine.matte.Matte.report`)."""
        row = {"file": str(photo), "status": "done", **checked.to_json(), **(steps or {})}
        row["seconds"] = round(seconds, 3)
        self.rows.append(row)
        self._outlines[photo] = outline_of(mask)
        self._row_of[photo] = row
        self._value[photo] = checked.value

    def not_done(self, photo: Path, status: str, error: str) -> None:
        self.rows.append({"file": str(photo), "status": status, "error": error})

    def note(self, photo: Path, text: str) -> None:
        """A note on a photo, in its row (`notes`) whatever its status."""
        self._notes.setdefault(str(photo), []).append(text)

    def write(self) -> Path:
        for row in self.rows:
            if row["file"] in self._notes:
                row["notes"] = self._notes[row["file"]]
        in_set = check_sets(self._outlines)
        # as in the studio, a set's missing angles are said, but make no photo need review
        flagging = check_sets(self._outlines, name_missing=False)
        for photo, row in self._row_of.items():
            row["needs_review"] = needs_review(self._value[photo], flagging.get(photo, []))
            if reasons := in_set.get(photo, []):
                row["reasons"] = [*row["reasons"], *reasons]
                row["confidence"] = min(row["confidence"], FLAGGED_IN_SET)
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows)
        if self.path.exists() and not self.is_report(self.path):  # put there during the batch
            raise OutputWriteError(self.path, "a file that is not a report is there (left as is)")
        return atomic_write_bytes(self.path, text.encode("utf-8"))
