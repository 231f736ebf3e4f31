"""Wizard page 1: the studio's labelled photos (masks or transparent cutouts), what was found,
every problem by file, and optionally the photos touched up in the main window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from app.worker import call_in_pool
from engine.training.pairs import Pair, PairReport, find_pairs

MIN_CARS = 2  # some cars are held back for validation


class DataPage(QWizardPage):
    def __init__(self, corrections: list[Pair]):
        super().__init__()
        self.setTitle("Your labelled photos")
        self.setSubTitle(
            "Choose a folder of photos with their masks (Kaggle layout, images/ + masks/, a "
            "sibling folder such as shoot/ + shoot_gt/, or X_mask.png beside X.jpg) or with "
            "transparent PNG cutouts beside the photos (the cutout's transparency is the "
            "label). Masks kept anywhere else: choose their folder too."
        )
        self.corrections_found = corrections
        self.report = PairReport()
        self.scanning = False
        self._generation = 0
        self._scanned_key: tuple[str, str] | None = None  # (folder, masks) last scanned

        self.folder_edit, row = self._folder_row("Folder of labelled photos", self._browse)
        self.masks_edit, masks_row = self._folder_row(
            "Masks folder, if elsewhere (optional: shoot_gt/ beside shoot/ is found by itself)",
            self._browse_masks,
        )
        self.status = QLabel("No folder chosen yet.")
        self.status.setWordWrap(True)
        self.problems = QListWidget()
        self.problems.setToolTip("Files that cannot be used, with the reason; the rest is used")
        self.use_corrections = QCheckBox(
            f"Also learn from my corrections: the {len(corrections)} photo(s) touched up in the "
            "queue"
        )
        self.use_corrections.setEnabled(bool(corrections))
        # off until ticked: a stray stroke in the queue must not become training data
        self.use_corrections.setChecked(False)
        self.use_corrections.toggled.connect(self._update_status)
        self.corrections_list = QLabel(_names(corrections))
        self.corrections_list.setWordWrap(True)
        self.corrections_list.setVisible(bool(corrections))

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(masks_row)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Problems:"))
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.use_corrections)
        layout.addWidget(self.corrections_list)

    def _folder_row(self, placeholder: str, browse_slot) -> tuple[QLineEdit, QHBoxLayout]:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.editingFinished.connect(self._edited)
        browse = QPushButton("Browse…")
        browse.clicked.connect(browse_slot)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        return edit, row

    # -- scanning ----------------------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of labelled photos")
        if folder:
            self.folder_edit.setText(folder)
            self.scan(folder)

    def _browse_masks(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of masks")
        if folder:
            self.masks_edit.setText(folder)
            self.scan(self.folder_edit.text())

    def _edited(self) -> None:
        """A folder typed in: scanned when it changed (not each time the focus leaves it)."""
        if self._key(self.folder_edit.text()) != self._scanned_key:
            self.scan(self.folder_edit.text())

    def _key(self, folder: str) -> tuple[str, str]:
        return folder.strip(), self.masks_edit.text().strip()

    def scan(self, folder: str) -> None:
        """Find pairs and problems on the thread pool (photos are decoded to check them)."""
        folder = folder.strip()
        if not folder:
            return
        self._scanned_key = self._key(folder)
        self._generation += 1
        generation = self._generation
        self.scanning = True
        self.status.setText(f"Looking for photos and masks in {folder}…")
        self.problems.clear()
        self.completeChanged.emit()
        masks = Path(self._scanned_key[1]) if self._scanned_key[1] else None
        call_in_pool(
            lambda: find_pairs(Path(folder), masks=masks),
            lambda report: self._scanned(generation, report),
            lambda message: self._scanned(generation, PairReport([], [(Path(folder), message)])),
        )

    def _scanned(self, generation: int, report: PairReport) -> None:
        if generation != self._generation:
            return  # an older scan: another folder was chosen since
        self.scanning = False
        self.report = report
        self.problems.clear()
        for path, reason in report.problems:
            item = QListWidgetItem(f"{path.name}: {reason}")
            item.setToolTip(str(path))
            self.problems.addItem(item)
        self._update_status()

    # -- what the next pages use -------------------------------------------------------------
    def pairs(self) -> list[Pair]:
        extra = self.corrections_found if self.use_corrections.isChecked() else []
        return list(self.report.pairs) + list(extra)

    def _update_status(self) -> None:
        pairs = self.pairs()
        cars = {p.car for p in pairs}
        text = (
            f"Found {len(self.report.pairs)} photo/mask pairs of {len(self.report.cars)} cars "
            f"and {len(self.report.problems)} problem(s)."
        )
        if self.use_corrections.isChecked() and self.corrections_found:
            text += f" With your {len(self.corrections_found)} corrections: {len(pairs)} photos."
        if pairs and len(cars) < MIN_CARS:
            text += f" Photos of at least {MIN_CARS} cars are needed: some are held back to check."
        elif pairs:
            text += " The photos with problems are left out; the rest are used."
        self.status.setText(text)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        pairs = self.pairs()
        return not self.scanning and len({p.car for p in pairs}) >= MIN_CARS


def _names(corrections: list[Pair], shown: int = 8) -> str:
    """The touched-up photos by name, so the operator sees what would be learnt from."""
    names = [p.image.name for p in corrections]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return "Your corrections: " + ", ".join(names[:shown]) + more if names else ""
