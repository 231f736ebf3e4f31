"""Remove from queue: asked first when photos hold finished cutouts or touch-ups, and undoable
(Edit → Undo remove, or Undo in the status bar) until the app starts again."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QStatusBar, QToolButton, QWidget

from app.model import SessionModel
from app.session import TOUCHED
from app.widgets.queue_view import QueueTree

UNDO_SHOWN_MS = 20000  # the status bar's Undo stays this long (Edit → Undo remove stays on)


def _photos(n: int) -> str:
    return f"{n} photo{'s' if n != 1 else ''}"


def ask_to_remove(parent: QWidget, count: int, finished: int, touched: int) -> bool:
    """Asked before photos with work in them leave the queue; Cancel is the default."""
    box = QMessageBox(
        QMessageBox.Icon.Question, "Remove from queue", f"Remove {_photos(count)} from the queue?"
    )
    box.setParent(parent, box.windowFlags())
    if count == 1:
        held = "It has a finished cutout" + (" with touch-ups" if touched else "")
    else:
        held = f"{finished} of them {'has' if finished == 1 else 'have'} a finished cutout"
        held += f", {touched} with touch-ups" if touched else ""
    box.setInformativeText(f"{held}. Edit → Undo remove brings them back.")
    remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    answer = box.clickedButton() is remove
    box.deleteLater()
    return answer


class RemovalController(QObject):
    """Remove the photos selected in the queue, and undo that."""

    leaving = Signal(list)  # these photos are about to be counted and asked about (keys)
    back = Signal(list)  # these photos are back in the queue (keys), the first to be shown

    def __init__(
        self,
        model: SessionModel,
        queue: QueueTree,
        status: QStatusBar,
        held: Callable[[str], bool],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.model, self.queue, self.status, self.held = model, queue, status, held
        self.parent_widget = parent
        self.undo_action = QAction("Undo &remove from queue", parent)
        self.undo_action.setToolTip("Bring back the photos last removed from the queue")
        self.undo_action.triggered.connect(lambda *_: self.undo())
        self.undo_button = QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.undo_button.setText("Undo remove")
        self.undo_button.setVisible(False)
        self._hide_undo = QTimer(self, singleShot=True, interval=UNDO_SHOWN_MS)
        self._hide_undo.timeout.connect(lambda: self.undo_button.setVisible(False))

    def add_to(self, menu: QMenu, before: QAction) -> None:
        """Undo remove in `menu`, before the action `before` (the status bar's button is placed
        by `app.actions.build_status_bar`)."""
        menu.insertAction(before, self.undo_action)
        self._sync()

    def remove_selected(self) -> None:
        keys = [k for k in self.queue.selected_keys() if not self.held(k)]  # not the batch's
        if not keys:
            return
        self.leaving.emit(keys)  # the stroke just painted goes (and comes back) with the photo
        photos = [self.model.photos[k] for k in keys]
        finished = sum(p.has_mask for p in photos)
        touched = sum(p.status == TOUCHED for p in photos)
        if finished and not ask_to_remove(self.parent_widget, len(photos), finished, touched):
            return
        self.model.remove(keys)  # the preview lets go of them (`photos_removed`), the queue follows
        self.status.showMessage(f"Removed {_photos(len(keys))} from the queue.", UNDO_SHOWN_MS)
        self.undo_button.setVisible(True)
        self._hide_undo.start()
        self._sync()

    def undo(self) -> None:
        back = self.model.undo_remove()
        self.undo_button.setVisible(False)
        self._sync()
        if not back:
            return
        self.back.emit([p.key for p in back])  # their thumbnails
        self.queue.select(back[0].key)
        self.status.showMessage(f"{_photos(len(back))} back in the queue.", 8000)

    def _sync(self) -> None:
        self.undo_action.setEnabled(bool(self.model.session.removals))
