"""Review mode: which cutouts need a look, the keyboard flow through them, and the warning when
a batch is mostly out of the model's depth.

A photo needs review (`app.session.needs_review`) when the model's mask came with a low
confidence (`engine.review.confidence`) and the operator has neither accepted nor touched it
up. "Next to review" (N) goes to the least confident of them; "Accept" (A) marks it reviewed."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from app.session import DONE, Photo, needs_review

OUT_OF_DEPTH = 0.5  # a finished batch with more than this share needing review: say so


class ReviewController:
    def __init__(self, window):
        self.w = window
        self.only_flagged = False
        self.warned = False  # the out-of-depth message is said once per session
        self.message: QMessageBox | None = None

    def flagged(self) -> list[Photo]:
        """The photos that need review, least confident first."""
        photos = [p for p in self.w.session.photos.values() if needs_review(p)]
        return sorted(photos, key=lambda p: (p.confidence, p.key))

    def next_flagged(self) -> None:
        flagged = self.flagged()
        if not flagged:
            self.w.statusBar().showMessage("Nothing needs review", 4000)
            return
        keys = [p.key for p in flagged]
        current = self.w.current_key
        after = keys.index(current) + 1 if current in keys else 0
        self.w.queue.select(keys[after % len(keys)])

    def accept(self) -> None:
        photo = self.w.session.photos.get(self.w.current_key)
        if photo is None or not photo.has_mask:
            return
        self.w.session.set_status(photo, photo.status, reviewed=True)
        self.w.queue.show_status(photo, self.w.session)
        self.show_only_flagged(self.only_flagged)
        left = len(self.flagged())
        self.w.statusBar().showMessage(f"Accepted {photo.name}; {left} left to review", 4000)

    def show_only_flagged(self, checked: bool) -> None:
        self.only_flagged = checked
        self.w.queue.filter(needs_review if checked else None, self.w.session)

    def batch_finished(self) -> None:
        done = [p for p in self.w.session.photos.values() if p.status == DONE and p.confidence >= 0]
        flagged = [p for p in done if needs_review(p)]
        if self.warned or len(done) < 4 or len(flagged) <= OUT_OF_DEPTH * len(done):
            return
        self.warned = True
        box = QMessageBox(self.w)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("These photos look new to the model")
        box.setText(
            f"{len(flagged)} of {len(done)} cutouts need a look: the model seems not to know "
            "this studio or these cars well.\n\nTouch up a few of them, then fine-tune the "
            "model on them: it learns your setting from the photos you corrected."
        )
        fine_tune = box.addButton("Fine-tune…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        fine_tune.clicked.connect(self.w.open_finetune)
        box.setModal(False)
        self.message = box
        box.show()
