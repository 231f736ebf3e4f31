"""Settings that persist between runs (QSettings): output folder, formats, background colour,
theme, model and device."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION, APPLICATION = "CarMask", "CarMask Studio"
DEFAULTS = {
    "output_dir": "",  # empty: a `cutouts` folder beside each photo
    "formats": "png",  # comma-separated subset of engine.export.EXPORT_FORMATS
    "background": "#ffffff",  # for JPEG export and the preview's colour background
    "preview_background": "checker",  # checker | white | color
    "theme": "dark",  # dark | light
    "model": "default",  # default | ensemble | my-ensemble | a model file path
    "ensemble": "",  # JSON list of the model files in the operator's own ensemble
    "device": "auto",  # auto | cpu | cuda
    "brush_size": 24,
    "window_geometry": b"",
    "window_state": b"",
}


class Settings:
    def __init__(self, store: QSettings | None = None):
        self.store = store or QSettings(ORGANIZATION, APPLICATION)

    def get(self, key: str):
        default = DEFAULTS[key]
        value = self.store.value(key, default)
        if isinstance(default, int) and not isinstance(default, bool):
            try:
                return int(value)
            except (TypeError, ValueError):
                return default
        if isinstance(default, bytes):
            return value if value else default
        return str(value) if value is not None else default

    def set(self, key: str, value, sync: bool = True) -> None:
        """`sync=False` for values that change many times a second (QSettings writes them from
        the event loop a little later, and on quit)."""
        if key not in DEFAULTS:
            raise KeyError(key)
        self.store.setValue(key, value)
        if sync:
            self.store.sync()

    @property
    def formats(self) -> tuple[str, ...]:
        from engine.export import EXPORT_FORMATS

        chosen = [f for f in self.get("formats").split(",") if f in EXPORT_FORMATS]
        return tuple(chosen) or ("png",)
