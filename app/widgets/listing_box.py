"""The export dialog's listing frames: every angle of a car framed alike on a backdrop with a
shadow (`engine.listing`), with a live preview of one angle as the options change."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from app.settings import Settings
from app.widgets.colour_button import ColourButton
from app.worker import call_in_pool
from engine.listing.choices import SHADOWS, SIZE_PRESETS, parse_size

PREVIEW_WIDTH = 360
PREVIEW_DELAY_MS = 250  # the preview is redrawn this long after the last change


class ListingBox(QGroupBox):
    """The options; `options()` gives `engine.listing.batch.ListingOptions` (None when off)."""

    def __init__(self, settings: Settings, sample=None, parent=None):
        """`sample`: a function giving (rgb, mask, the boxes of its car's other angles) of one
        segmented photo for the preview (called on a worker)."""
        super().__init__("Listing frames", parent)
        self.settings, self.sample = settings, sample
        self.enabled = QCheckBox("Frame every angle of a car alike, on a backdrop (JPEG)")
        self.size_combo = QComboBox(editable=True)
        self.size_combo.addItems(list(SIZE_PRESETS))
        self.size_combo.setCurrentText(settings.listing_size)
        self.colour_button = ColourButton(settings.listing_backdrop, "Listing backdrop")
        self.colour_button.changed.connect(self._changed)
        # the CLI's --backdrop-bottom (a gradient) and --backdrop-image
        self.gradient = QCheckBox("gradient to")
        self.gradient.setChecked(bool(settings.listing_backdrop_bottom))
        self.bottom_button = ColourButton(
            settings.listing_backdrop_bottom or "#c8c8c8", "Bottom of the backdrop's gradient"
        )
        self.bottom_button.changed.connect(self._changed)
        self.image = QLineEdit(settings.listing_backdrop_image)
        self.image.setPlaceholderText("the studio's backdrop image (optional: replaces the colour)")
        self.image.editingFinished.connect(self._changed)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_image)
        self._image_cache: tuple[str, np.ndarray] | None = None
        self.shadow = QComboBox()
        self.shadow.addItems(list(SHADOWS))
        self.shadow.setCurrentText(settings.listing_shadow)
        self.strength = QSpinBox(minimum=0, maximum=100, suffix=" %", singleStep=10)
        self.strength.setValue(settings.listing_shadow_strength)
        self.strength.setToolTip("How dark the shadow is at its darkest (--shadow-strength)")
        self.margin = QSpinBox(minimum=0, maximum=40, suffix=" %")
        self.margin.setValue(settings.listing_margin)
        self.spin = QCheckBox("A 360° spin page per car (opens in any browser, offline)")
        self.spin.setChecked(bool(settings.listing_spin))
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #d33")
        self.preview = QLabel("Preview: no segmented photo yet")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_WIDTH, PREVIEW_WIDTH * 3 // 4)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Size", self.size_combo)
        colours = QHBoxLayout()
        for widget in (self.colour_button, self.gradient, self.bottom_button):
            colours.addWidget(widget)
        colours.addStretch(1)
        image_row = QHBoxLayout()
        image_row.addWidget(self.image, 1)
        image_row.addWidget(browse)
        shadow_row = QHBoxLayout()
        shadow_row.addWidget(self.shadow)
        shadow_row.addWidget(QLabel("strength"))
        shadow_row.addWidget(self.strength)
        shadow_row.addStretch(1)
        form.addRow("Backdrop", colours)
        form.addRow("", image_row)
        form.addRow("Shadow", shadow_row)
        form.addRow("Margin", self.margin)
        form.addRow(self.spin)
        form.addRow(self.problem)
        form.addRow(self.preview)
        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self.size_combo.currentTextChanged.connect(self._changed)
        self.shadow.currentTextChanged.connect(self._changed)
        self.strength.valueChanged.connect(self._changed)
        self.gradient.toggled.connect(self._changed)
        self.margin.valueChanged.connect(self._changed)
        self.enabled.toggled.connect(self._changed)
        self._changed()
        self.rendered = 0  # previews drawn (the tests wait for them)

    def _changed(self, *_args) -> None:
        widgets = (self.size_combo, self.colour_button, self.gradient, self.image, self.shadow)
        on = self.enabled.isChecked()
        for widget in (*widgets, self.strength, self.margin, self.spin, self.preview):
            widget.setEnabled(on)
        self.bottom_button.setEnabled(on and self.gradient.isChecked())
        self._timer.start()

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Backdrop image", self.image.text(), "Images (*.jpg *.jpeg *.png *.webp *.tif)"
        )
        if path:
            self.image.setText(path)
            self._changed()

    def backdrop(self):
        """The backdrop asked for, or None (and the problem said) when its image is unreadable."""
        from engine.io import ImageReadError, read_rgb
        from engine.listing.render import Backdrop

        c = self.colour_button.colour()
        b = self.bottom_button.colour()
        bottom = (b.red(), b.green(), b.blue()) if self.gradient.isChecked() else None
        image, path = None, self.image.text().strip()
        if path:
            if self._image_cache is None or self._image_cache[0] != path:
                try:
                    self._image_cache = (path, read_rgb(path))
                except ImageReadError as exc:
                    self.problem.setText(f"backdrop image {path}: {exc.reason}")
                    return None
            image = self._image_cache[1]
        return Backdrop((c.red(), c.green(), c.blue()), bottom, image)

    def frame_size(self) -> tuple[int, int] | None:
        try:
            size = parse_size(self.size_combo.currentText())
        except ValueError as exc:
            self.problem.setText(str(exc))
            return None
        self.problem.setText("")
        return size

    def options(self):
        """The listing options, or None when listing frames are off or the size is not valid."""
        from engine.listing.batch import ListingOptions
        from engine.listing.render import ShadowStyle

        size = self.frame_size()
        if not self.enabled.isChecked() or size is None:
            return None
        backdrop = self.backdrop()
        if backdrop is None:
            return None
        return ListingOptions(
            size=size,
            backdrop=backdrop,
            shadow=ShadowStyle(self.shadow.currentText(), self.strength.value() / 100),
            margin=self.margin.value() / 100,
            spin=self.spin.isChecked(),
        )

    def remember(self) -> None:
        self.settings.listing_size = self.size_combo.currentText().strip()
        self.settings.listing_backdrop = self.colour_button.colour().name()
        self.settings.listing_shadow = self.shadow.currentText()
        self.settings.listing_shadow_strength = self.strength.value()
        bottom = self.bottom_button.colour().name() if self.gradient.isChecked() else ""
        self.settings.listing_backdrop_bottom = bottom
        self.settings.listing_backdrop_image = self.image.text().strip()
        self.settings.listing_margin = self.margin.value()
        self.settings.listing_spin = int(self.spin.isChecked())

    def refresh_preview(self) -> None:
        options = self.options()
        if options is None or self.sample is None:
            return

        def render():
            from engine.listing.batch import preview_frame

            picked = self.sample()  # (rgb, mask, the boxes of the car's other angles)
            if picked is None:
                return None
            rgb, mask, others = picked
            return preview_frame(rgb, mask, options, others)

        call_in_pool(render, self._show_preview)

    def _show_preview(self, frame: np.ndarray | None) -> None:
        self.rendered += 1
        if frame is None:
            self.preview.setText("Preview: no segmented photo yet")
            return
        h, w = frame.shape[:2]
        image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        pixmap = QPixmap.fromImage(image).scaledToWidth(
            PREVIEW_WIDTH, Qt.TransformationMode.SmoothTransformation
        )
        self.preview.setPixmap(pixmap)
