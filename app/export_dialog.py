"""One-click export: every finished photo as a transparent PNG (the car's own pixels, a soft
edge, nothing kept under alpha 0), optionally a mask PNG, a JPEG on a colour and listing frames
(every angle of a car framed alike on a backdrop with a shadow); atomic writes, originals never
touched, a report. The dialog says how many cutouts still need review and can leave them out
("reviewed and good only"); the report lists them either way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from app.session import needs_review
from app.settings import Settings
from app.widgets.colour_button import ColourButton
from app.widgets.listing_box import ListingBox
from app.worker import Progress, call_in_pool

BESIDE = "cutouts"  # default: a folder of this name beside each photo


@dataclass
class ExportReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)
    spins: list[Path] = field(default_factory=list)  # each car's 360° spin page
    spin_of: dict[str, Path] = field(default_factory=dict)  # car (its listing key) → its page
    unreviewed: list[Path] = field(default_factory=list)  # cutouts that still need review
    left_out: bool = False  # ... and were not exported ("reviewed and good only")

    def text(self) -> str:
        spins = f" and {len(self.spins)} 360° spin page(s)" if self.spins else ""
        lines = [
            f"written: {len(self.written)} file(s){spins}; skipped: {len(self.skipped)}; "
            f"failed: {len(self.failed)}"
        ]
        if self.unreviewed:
            done = "not exported" if self.left_out else "exported without a look"
            lines.append(f"{len(self.unreviewed)} still need review ({done}):")
            lines += [f"  ⚑ {p.name}" for p in self.unreviewed]
        lines += [f"skipped {p.name}: {r}" for p, r in self.skipped]
        lines += [f"FAILED {p}: {r}" for p, r in self.failed]
        lines += [f"note {p.name}: {r}" for p, r in self.notes]
        lines += [f"360° spin: {p}" for p in self.spins]
        lines += [f"→ {f}" for f in self.folders]
        return "\n".join(lines)


def out_dir_for(photo_path: Path, chosen: str) -> Path:
    """The chosen folder, else a `cutouts` folder beside the photo; for the shipped samples,
    which live in the app's install folder, one in the user's Pictures folder instead."""
    if chosen:
        return Path(chosen)
    from engine.modelfiles.library import resources_dir

    if Path(photo_path).resolve().is_relative_to(resources_dir().resolve()):
        return samples_output_dir()
    return photo_path.parent / BESIDE


def samples_output_dir() -> Path:
    """Where the shipped samples' cutouts go: never into the app's install folder."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "CarMask Studio" / BESIDE


def export_session(
    session, out_dir: str, options, progress=None, listing=None, good_only: bool = False
) -> ExportReport:
    """Export every photo of the session that has a mask (the touched-up one where there is one)
    and, with `listing` (`engine.listing.batch.ListingOptions`), each car's listing frames once
    its photos are done; `good_only`: not the cutouts that still need review. Runs on a worker;
    `progress(done, total)` is called after each photo."""
    from engine.batch.export import export_photo
    from engine.batch.outputs import OutputPlan
    from engine.io import ImageReadError, OutputWriteError, read_photo

    photos = list(session.photos.values())
    report = ExportReport(unreviewed=[p.path for p in photos if needs_review(p)])
    report.left_out = good_only and bool(report.unreviewed)
    left_out = set(report.unreviewed) if good_only else set()
    ready = [p for p in photos if p.has_mask and p.path not in left_out]
    formats = (*options.formats, "listing") if listing else options.formats
    plan = OutputPlan(formats, [p.path for p in photos])
    cars = _listing_batch(listing, plan, out_dir, [p.path for p in photos])
    for p in photos:
        if not p.has_mask:
            why = f"failed: {p.error}" if p.error else f"not segmented yet ({p.status})"
            report.skipped.append((p.path, why))
            _framed(report, cars.skip(p.path) if cars else None)
        elif p.path in left_out:
            _framed(report, cars.skip(p.path) if cars else None)
    for p in ready:  # every name chosen before anything is written
        plan.assign(p.path, out_dir_for(p.path, out_dir))
    for i, photo in enumerate(ready):
        folder = out_dir_for(photo.path, out_dir)
        try:
            mask = session.mask(photo)
            if mask is None:
                raise ValueError("its mask file is missing; run the photo again")
            image = read_photo(photo.path)
            if image.rgb.shape[:2] != mask.shape:
                raise ValueError("the photo changed size since it was segmented; run it again")
            report.written += export_photo(
                image.rgb, mask, photo.path, folder, options, plan, image.alpha
            )
            if folder not in report.folders:
                report.folders.append(folder)
            if cars:
                _framed(report, cars.add(photo.path, mask))
        except ImageReadError as exc:
            report.failed.append((photo.path, exc.reason))
            _framed(report, cars.skip(photo.path) if cars else None)
        except OutputWriteError as exc:
            report.failed.append((photo.path, f"{exc.path}: {exc.reason}"))
            _framed(report, cars.skip(photo.path) if cars else None)
        except ValueError as exc:
            report.failed.append((photo.path, str(exc)))
            _framed(report, cars.skip(photo.path) if cars else None)
        if progress:
            progress(i + 1, len(ready))
    return report


def _listing_batch(listing, plan, out_dir: str, photos: list[Path]):
    if listing is None:
        return None
    from engine.listing.batch import ListingBatch

    return ListingBatch(listing, plan, lambda photo: out_dir_for(photo, out_dir), photos)


def _framed(report: ExportReport, result) -> None:
    """A car's listing frames (written once its last photo was exported) into the report."""
    if result is None:
        return
    report.written += result.written
    report.failed += result.failed
    report.notes += result.notes
    if result.spin:
        report.spins.append(result.spin)
        report.spin_of[result.car] = result.spin
    for path in result.written:
        if path.parent not in report.folders:
            report.folders.append(path.parent)


def open_path(path: Path) -> str:
    """Open a file or folder with the desktop's program for it; "" when that worked, else why
    not (with the path, for the operator to open it by hand)."""
    if not path.exists():
        return f"{path} is no longer there."
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return ""
    return (
        f"No program here opens it (no desktop launcher such as xdg-open answered).\n"
        f"Open it from your file manager or browser: {path}"
    )


class ExportDialog(QDialog):
    def __init__(self, session, settings: Settings, parent=None, selected_photo=None):
        """`selected_photo()`: the photo chosen in the queue now, or None (Open spin opens its
        car's page)."""
        super().__init__(parent)
        self.session, self.settings = session, settings
        self.selected_photo = selected_photo or (lambda: None)
        self.report: ExportReport | None = None
        self.setWindowTitle("Export cutouts")
        self.setMinimumWidth(560)
        ready = sum(p.has_mask for p in session.photos.values())
        doubtful = sum(needs_review(p) for p in session.photos.values())
        self.summary = QLabel(
            f"{ready} of {len(session.photos)} photo(s) are ready to export "
            "(touched-up masks are used where there are any)."
            + (
                f"\n⚑ {doubtful} of them still need review (N in the window goes to them)."
                if doubtful
                else ""
            )
        )
        self.good_only = QRadioButton(
            f"Reviewed and good only (leaves out the {doubtful} that need review)"
        )
        self.all_photos = QRadioButton("All")
        self.all_photos.setChecked(True)
        self.good_only.setEnabled(doubtful > 0)
        which = QVBoxLayout()
        which.addWidget(self.good_only)
        which.addWidget(self.all_photos)
        self.folder = QLineEdit(settings.output_dir)
        self.folder.setPlaceholderText(
            f"beside each photo, in a '{BESIDE}' folder (the samples: in Pictures)"
        )
        self.folder.setToolTip(f"Empty: the shipped samples' cutouts go to {samples_output_dir()}")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        formats = settings.formats
        self.png = QCheckBox(
            "Transparent PNG (the car with a soft edge; nothing under the transparency)"
        )
        self.png.setChecked("png" in formats)
        self.mask_box = QCheckBox("Mask PNG (white = car)")
        self.mask_box.setChecked("mask" in formats)
        self.jpg = QCheckBox("JPEG on a colour")
        self.jpg.setChecked("jpg" in formats)
        self.colour_button = ColourButton(settings.background, "Background for JPEG")
        jrow = QHBoxLayout()
        jrow.addWidget(self.jpg)
        jrow.addWidget(self.colour_button)
        jrow.addStretch()

        form = QFormLayout()
        form.addRow("Photos", which)
        form.addRow("Output folder", row)
        form.addRow("Write", self.png)
        form.addRow("", self.mask_box)
        form.addRow("", jrow)
        self.listing = ListingBox(settings, self._sample_for_preview())
        self.listing.enabled.setChecked("listing" in settings.formats_text.split(","))
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.report_text = QPlainTextEdit(readOnly=True)
        self.report_text.setPlaceholderText("The report appears here after the export.")
        self.report_text.setMaximumHeight(160)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.open_button = self.buttons.addButton(
            "Open folder", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button.setEnabled(False)
        self.spin_button = self.buttons.addButton(
            "Open spin", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.spin_button.setToolTip(
            "The 360° spin page of the car selected in the queue, in the default browser"
        )
        self.spin_button.setVisible(False)
        self.spin_button.clicked.connect(self.open_spin)
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.open_button.clicked.connect(self.open_folder)
        close.clicked.connect(self.reject)
        self.export_button.setDefault(True)
        self.export_button.setEnabled(ready > 0)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.listing)
        layout.addWidget(self.bar)
        layout.addWidget(self.report_text)
        layout.addWidget(self.buttons)
        self._progress = Progress(self)
        self._progress.changed.connect(self._on_progress)

    def _choose_folder(self) -> None:
        start = self.folder.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Export into", start)
        if folder:
            self.folder.setText(folder)

    def options(self):
        from engine.batch.export import ExportOptions

        formats = tuple(
            f
            for f, box in (("png", self.png), ("mask", self.mask_box), ("jpg", self.jpg))
            if box.isChecked()
        )
        c = self.colour_button.colour()
        return ExportOptions(formats=formats, background=(c.red(), c.green(), c.blue()))

    def _sample_for_preview(self):
        """The segmented photo selected in the queue (else the first one): its rgb, mask and the
        boxes of its car's other angles, read on the worker that draws the preview (the car's
        set decides the frame)."""
        selected = self.selected_photo()
        ready = [p for p in self.session.photos.values() if p.has_mask]
        photo = next((p for p in ready if p.path == selected), ready[0] if ready else None)
        if photo is None:
            return None
        session = self.session
        car = [p for p in session.cars().get(photo.car, []) if p.has_mask and p is not photo]

        def sample():
            from engine.io import ImageReadError, read_photo
            from engine.listing.framing import car_box

            mask = session.mask(photo)
            try:
                rgb = read_photo(photo.path).rgb
            except ImageReadError:
                return None
            if mask is None or mask.shape != rgb.shape[:2]:
                return None
            others = [car_box(m) for m in map(session.mask, car) if m is not None]
            return rgb, mask, [b for b in others if b is not None]

        return sample

    @Slot()
    def start(self) -> None:
        options = self.options()
        listing = self.listing.options()
        if self.listing.enabled.isChecked() and listing is None:
            self.report_text.setPlainText(f"Listing frames: {self.listing.problem.text()}")
            return
        if not options.formats and listing is None:
            self.report_text.setPlainText("Choose at least one thing to write.")
            return
        out_dir = self.folder.text().strip()
        self.settings.output_dir = out_dir
        self.settings.formats = (*options.formats, "listing") if listing else options.formats
        self.settings.background = self.colour_button.colour().name()
        self.listing.remember()
        self.export_button.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.report_text.setPlainText("Exporting…")
        signal = self._progress.changed
        good_only = self.good_only.isChecked()
        call_in_pool(
            lambda: export_session(self.session, out_dir, options, signal.emit, listing, good_only),
            self._done,
            self._error,
        )

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, total)
        self.bar.setValue(done)

    def _done(self, report: ExportReport) -> None:
        self.report = report
        self.bar.setVisible(False)
        self.export_button.setEnabled(True)
        self.report_text.setPlainText(report.text())
        self.open_button.setEnabled(bool(report.folders))
        self.spin_button.setVisible(bool(report.spins))

    def _error(self, message: str) -> None:
        self.bar.setVisible(False)
        self.export_button.setEnabled(True)
        self.report_text.setPlainText(f"Export stopped: {message}")

    @Slot()
    def open_folder(self) -> None:
        if self.report and self.report.folders:
            self._open(self.report.folders[0], "the folder")

    @Slot()
    def open_spin(self) -> None:
        """The selected car's spin page (the first car's when no exported car is selected)."""
        from engine.listing.batch import car_of

        if self.report and self.report.spins:
            photo = self.selected_photo()
            car = car_of(photo) if photo is not None else ""
            self._open(self.report.spin_of.get(car, self.report.spins[0]), "the spin page")

    def _open(self, path: Path, what: str) -> None:
        if why := open_path(path):
            self.report_text.appendPlainText(f"\nCannot open {what}. {why}")
