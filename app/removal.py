"""Remove from queue: asked first when photos hold finished cutouts or touch-ups, and undoable
(Edit → Undo remove, or Undo in the status bar) until the app starts again."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QToolButton

from app.session import TOUCHED

UNDO_SHOWN_MS = 20000  # the status bar's Undo stays this long (Edit → Undo remove stays on)


def _photos(n: int) -> str:
    return f"{n} photo{'s' if n != 1 else ''}"


def ask_to_remove(parent, count: int, finished: int, touched: int) -> bool:
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
    """Remove selected photos from a `MainWindow`'s queue, and undo that."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.undo_action = QAction("Undo &remove from queue", window)
        self.undo_action.setToolTip("Bring back the photos last removed from the queue")
        self.undo_action.triggered.connect(lambda *_: self.undo())
        self.undo_button = QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.undo_button.setText("Undo remove")
        self.undo_button.setVisible(False)
        self._hide_undo = QTimer(self, singleShot=True, interval=UNDO_SHOWN_MS)
        self._hide_undo.timeout.connect(lambda: self.undo_button.setVisible(False))

    def add_to(self, menu, before) -> None:
        """Undo remove in `menu`, before the action `before` (the status bar's button is placed
        by `app.actions.build_status_bar`)."""
        menu.insertAction(before, self.undo_action)
        self._sync()

    def remove_selected(self) -> None:
        w = self.w
        keys = w.queue.selected_keys()
        if w.batch.busy:
            keys = [k for k in keys if k not in w.batch.worker.keys]
        if not keys:
            return
        if w.current_key in keys:
            w.save_touchup()  # the stroke just painted goes (and comes back) with the photo
        photos = [w.session.photos[k] for k in keys]
        finished = sum(p.has_mask for p in photos)
        touched = sum(p.status == TOUCHED for p in photos)
        if finished and not ask_to_remove(w, len(photos), finished, touched):
            return
        if w.current_key in keys:
            w.current_key = ""
            w.document.clear()
        if w._loading_key in keys:  # still loading: it must not show up once removed
            w._loading_key = ""
        w.session.remove(keys)
        for key in keys:
            w.document.forget(key)
        w.refresh_queue()
        w.statusBar().showMessage(f"Removed {_photos(len(keys))} from the queue.", UNDO_SHOWN_MS)
        self.undo_button.setVisible(True)
        self._hide_undo.start()
        self._sync()

    def undo(self) -> None:
        w = self.w
        back = w.session.undo_remove()
        self.undo_button.setVisible(False)
        self._sync()
        if not back:
            return
        w.refresh_queue()
        w._thumbnails_for([p.key for p in back])
        w.queue.select(back[0].key)
        w.statusBar().showMessage(f"{_photos(len(back))} back in the queue.", 8000)

    def _sync(self) -> None:
        self.undo_action.setEnabled(bool(self.w.session.removals))
