"""Review mode: which cutouts need a look, the keyboard flow through them, and the warning when
a batch is mostly out of the model's depth.

A photo needs review (`app.session.needs_review`) when the model's mask came with a low
confidence (`engine.review.confidence`) and the operator has neither accepted nor touched it
up. "Next to review" (N) goes to the least confident of them; "Accept" (A) marks it reviewed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QStatusBar, QWidget

from app.model import SessionModel
from app.session import DONE, Photo, needs_review
from app.widgets.queue_view import QueueTree, review_colour
from app.worker import call_in_pool

OUT_OF_DEPTH = 0.5  # a finished batch with more than this share needing review: say so


class ReviewController(QObject):
    """The review line, Next to review, Accept, the filter and the out-of-depth message."""

    fine_tune_asked = Signal()

    def __init__(
        self,
        model: SessionModel,
        queue: QueueTree,
        status: QStatusBar,
        current_key: Callable[[], str],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.model, self.queue, self.status, self.current_key = model, queue, status, current_key
        self.parent_widget = parent
        self.only_flagged = False
        self.warned = False  # the out-of-depth message is said once per session
        self.message: QMessageBox | None = None
        self.angles_checked = 0  # runs of the checks across angles (the tests wait for them)
        self.line = QLabel()

    def recolour(self) -> None:
        """The line in the theme's "needs review" colour (after a change of theme too)."""
        self.line.setStyleSheet(f"color: {review_colour()}; padding: 4px 8px")

    def make_line(self) -> QLabel:
        """The line under the preview that says why the photo on show needs a look."""
        self.line.setWordWrap(True)
        self.recolour()
        self.line.setVisible(False)
        self.queue.status_shown.connect(self._status_shown)
        return self.line

    def show_line(self) -> None:
        photo = self.model.photos.get(self.current_key())
        if photo is None or not needs_review(photo):
            self.line.setVisible(False)
            return
        reasons = [*photo.reasons, *photo.set_reasons] or [f"confidence {photo.confidence:.2f}"]
        self.line.setText("⚑ Needs review: " + "; ".join(reasons) + "  (A accepts it)")
        self.line.setToolTip("\n".join(reasons))
        self.line.setVisible(True)

    def _status_shown(self, key: str) -> None:
        if key == self.current_key():
            self.show_line()

    def flagged(self) -> list[Photo]:
        """The photos that need review, least confident first (a photo flagged against its
        car's other angles counts as 0.5 at most)."""
        photos = [p for p in self.model.photos.values() if needs_review(p)]
        return sorted(photos, key=lambda p: (_rank(p), p.key))

    def next_flagged(self) -> None:
        flagged = self.flagged()
        if not flagged:
            self.status.showMessage("Nothing needs review", 4000)
            return
        keys = [p.key for p in flagged]
        current = self.current_key()
        after = keys.index(current) + 1 if current in keys else 0
        self.queue.select(keys[after % len(keys)])

    def accept(self) -> None:
        photo = self.model.photos.get(self.current_key())
        if photo is None or not photo.has_mask:
            return
        self.model.accept(photo)
        self.show_only_flagged(self.only_flagged)
        left = len(self.flagged())
        self.status.showMessage(f"Accepted {photo.name}; {left} left to review", 4000)

    def show_only_flagged(self, checked: bool) -> None:
        self.only_flagged = checked
        self.queue.filter(needs_review if checked else None, self.model.session)

    def batch_finished(self) -> None:
        self.check_angles()
        self._say_if_out_of_depth()

    def check_angles(self) -> None:
        """Each car's segmented angles against each other (`engine.review.angles`), on a
        worker: the masks are read from the session's files."""
        session = self.model.session
        photos = [p for p in session.photos.values() if p.has_mask]

        def check() -> dict[str, list[str]]:
            from engine.review.angles import check_sets, outline_of

            outlines = {}
            for p in photos:
                mask = session.mask(p)
                outlines[p.path] = outline_of(mask) if mask is not None else None
            found = check_sets(outlines, name_missing=False)  # the queue shows them per car
            return {str(path): reasons for path, reasons in found.items()}

        call_in_pool(check, self._angles_checked)

    def _angles_checked(self, flagged: dict[str, list[str]]) -> None:
        for photo in self.model.photos.values():
            reasons = flagged.get(photo.key, []) if photo.has_mask else []
            if reasons != photo.set_reasons:
                self.model.set_reasons(photo, reasons)
        self.model.save()
        self.show_only_flagged(self.only_flagged)
        self.angles_checked += 1

    def _say_if_out_of_depth(self) -> None:
        done = [p for p in self.model.photos.values() if p.status == DONE and p.confidence >= 0]
        flagged = [p for p in done if needs_review(p)]
        if self.warned or len(done) < 4 or len(flagged) <= OUT_OF_DEPTH * len(done):
            return
        self.warned = True
        box = QMessageBox(self.parent_widget)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("These photos look new to the model")
        box.setText(
            f"{len(flagged)} of {len(done)} cutouts need a look: the model seems not to know "
            "this studio or these cars well.\n\nTouch up a few of them, then fine-tune the "
            "model on them: it learns your setting from the photos you corrected."
        )
        fine_tune = box.addButton("Fine-tune…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        fine_tune.clicked.connect(self.fine_tune_asked)
        box.setModal(False)
        self.message = box
        box.show()


def _rank(photo: Photo) -> float:
    return min(photo.confidence, 0.5) if photo.set_reasons else photo.confidence
