"""The model chooser of the main window: the shipped default and ensemble, the operator's own
ensemble, and every model file in the library (headers only: no torch on the UI thread)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import Qt

from app.widgets.model_combo import SHORT

log = logging.getLogger(__name__)
MY_ENSEMBLE = "my-ensemble"  # the "model" setting for the ensemble the operator built


def shipped_models() -> tuple[list[Path], list[Path]]:
    """The shipped default and ensemble model files (empty where nothing is shipped)."""
    from engine.modelfiles.library import default_model_paths, ensemble_model_paths

    found: list[list[Path]] = []
    for get in (default_model_paths, ensemble_model_paths):
        try:
            found.append(get())
        except ValueError:
            found.append([])
    return found[0], found[1]


class ModelPicker:
    """Fills a combo box with the models to choose from and keeps the choice in the settings."""

    def __init__(self, combo, settings, label):
        self.combo, self.settings, self.label = combo, settings, label

    def user_ensemble(self) -> list[Path]:
        try:
            paths = [Path(p) for p in json.loads(self.settings.ensemble or "[]")]
        except ValueError:
            return []
        return [p for p in paths if p.is_file()]

    def fill(self) -> None:
        """Shipped default, shipped ensemble and every model file in the library."""
        from engine.modelfiles.library import list_library

        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        default, ensemble = shipped_models()
        found, errors = list_library()  # headers only, no torch: fast enough for the UI thread
        headers = {str(path): header for path, header in found}
        if default:  # named: the operator sees which model "Default model" is
            header = headers.get(str(default[0]))
            name = header.name if header else default[0].stem
            combo.addItem(f"Default model ({name})", ["default", [str(p) for p in default]])
            self._describe(combo.count() - 1, "Default model", header, "Default model: ")
        if ensemble:
            combo.addItem(
                f"Ensemble ({len(ensemble)} models)", ["ensemble", [str(p) for p in ensemble]]
            )
        mine = self.user_ensemble()
        if len(mine) > 1:
            combo.addItem(
                f"My ensemble ({len(mine)} models)", [MY_ENSEMBLE, [str(p) for p in mine]]
            )
        # the default is listed once (above); ensemble members stay choosable on their own
        shipped = {str(p) for p in default}
        for path, header in found:
            if str(path) not in shipped:
                combo.addItem(header.label, [str(path), [str(path)]])
                self._describe(combo.count() - 1, header.name, header)
        for exc in errors:
            log.warning("model library: %s", exc)
        if combo.count() == 0:
            combo.addItem("no model installed", ["", []])
        wanted = self.settings.model
        for i in range(combo.count()):
            if combo.itemData(i)[0] == wanted:
                combo.setCurrentIndex(i)
        combo.blockSignals(False)
        self._show_choice()

    def _describe(self, index: int, short: str, header, prefix: str = "") -> None:
        self.combo.setItemData(index, short, SHORT)
        if header is not None:
            self.combo.setItemData(index, prefix + header.label, Qt.ItemDataRole.ToolTipRole)

    def _show_choice(self) -> None:
        """The status bar and the combo's tooltip name the model in full."""
        combo = self.combo
        self.label.setText(f"model: {combo.currentText()}")
        full = combo.currentData(Qt.ItemDataRole.ToolTipRole) or combo.currentText()
        combo.setToolTip(f"The model (or ensemble) the batch uses: {full}")

    def paths(self) -> list[Path]:
        data = self.combo.currentData() or ["", []]
        return [Path(p) for p in data[1]]

    def chosen(self, _index: int = 0) -> None:
        self.settings.model = (self.combo.currentData() or [""])[0]
        self._show_choice()

    def installed(self, path: str, use: str) -> None:
        """A model from the wizard is in the library: list it, and use it as asked."""
        log.info("fine-tuned model saved: %s (%s)", path, use)
        if use == "default":
            self.settings.model = path
        elif use == "ensemble":
            members = self.user_ensemble() or self.paths()
            names = [str(p) for p in members if str(p) != path] + [path]
            self.settings.ensemble = json.dumps(names)
            self.settings.model = MY_ENSEMBLE
        self.fill()
