"""The angle strip under the preview: thumbnails of the shown car's angles, in order (hidden for
a single photo: there are no angles to step through)."""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget, QListWidgetItem

from app.widgets.queue_view import KEY_ROLE, THUMB


class AngleStrip(QListWidget):
    """A row of the car's photos; choosing one selects it in the queue (the window wires it)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(THUMB)
        self.setFixedHeight(THUMB.height() + 44)
        self.setToolTip("The car's angles (← → to move between them)")

    def keys(self) -> list[str]:
        return [self.item(i).data(KEY_ROLE) for i in range(self.count())]

    def fill(self, photos, thumbnails: dict) -> None:
        """Show these photos (a car's angles), with the thumbnails made so far; hidden when they
        have no angles (a single photo)."""
        self.blockSignals(True)
        self.clear()
        self.setVisible(any(photo.angle is not None for photo in photos))
        for photo in photos:
            item = QListWidgetItem(photo.label)
            item.setData(KEY_ROLE, photo.key)
            item.setToolTip(photo.name)
            if photo.key in thumbnails:
                item.setIcon(thumbnails[photo.key])
            self.addItem(item)
        self.blockSignals(False)

    def mark(self, key: str) -> bool:
        """Make `key` the current item without a signal; False if it is not in the strip."""
        keys = self.keys()
        if key not in keys:
            return False
        self.blockSignals(True)
        self.setCurrentRow(keys.index(key))
        self.blockSignals(False)
        return True
