"""What the window shows before the queue has a photo: where to start (drop a folder, add one,
or open the sample car), in place of an empty preview."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

DROP_TEXT = "Drop folders of photos here"
HINT_TEXT = (
    "Every photo is segmented in the background; you check each cutout beside its photo, touch "
    "it up with the brush, and export with one click."
)


class EmptyState(QWidget):
    """`buttons` ("add_folder", "add_files", "samples"): the window connects them to its
    actions."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("emptyState")
        title = QLabel(DROP_TEXT)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        title.setFont(font)
        hint = QLabel(HINT_TEXT)
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setFixedWidth(520)  # wrapped to a readable measure (a centred label shrinks)
        hint.setMinimumHeight(hint.heightForWidth(520))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for name, text in (
            ("add_folder", "Add folder…"),
            ("add_files", "Add photos…"),
            ("samples", "Open samples"),
        ):
            button = QPushButton(text)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addSpacing(12)
        layout.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(18)
        layout.addLayout(buttons)
        layout.addStretch(3)


def build_stage(empty: EmptyState, work: QWidget) -> QStackedWidget:
    """The right-hand side: the empty state until the queue has photos, then `work`."""
    stage = QStackedWidget()
    stage.addWidget(empty)
    stage.addWidget(work)
    return stage


def show_stage(stage: QStackedWidget, has_photos: bool) -> None:
    stage.setCurrentIndex(1 if has_photos else 0)
