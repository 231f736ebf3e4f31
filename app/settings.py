"""Settings that persist between runs (QSettings): output folder, formats, background colour,
theme, model and device. Each is a typed attribute (`settings.theme`, `settings.brush_size =
32`); a stored value of the wrong type or outside its choices reads as the default."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

from PySide6.QtCore import QSettings

from engine.listing.choices import SHADOWS

ORGANIZATION, APPLICATION = "CarMask", "CarMask Studio"
T = TypeVar("T", str, int, bytes)


class _Setting(Generic[T]):
    """One persisted value: its default (which fixes its type), the values allowed (for a
    choice) and whether a change is written through at once (`sync`; off for values that change
    many times a second, which QSettings writes a little later and on quit)."""

    def __init__(self, default: T, choices: tuple[str, ...] = (), sync: bool = True, key: str = ""):
        self.default: T = default
        self.choices, self.sync = choices, sync
        self.key = key  # the QSettings key (the attribute's name unless given)

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = self.key or name

    @overload
    def __get__(self, obj: None, owner: type) -> _Setting[T]: ...
    @overload
    def __get__(self, obj: Settings, owner: type) -> T: ...
    def __get__(self, obj: Settings | None, owner: type) -> Any:
        if obj is None:
            return self
        return self.parse(obj.store.value(self.key, self.default))

    def parse(self, value: Any) -> T:
        default = self.default
        if value is None:
            return default
        if isinstance(default, bytes):
            return bytes(value) if value else default
        if isinstance(default, int):
            try:
                return int(value)
            except (TypeError, ValueError):
                return default
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)  # ini: a,b
        return default if self.choices and text not in self.choices else text

    def __set__(self, obj: Settings, value: T) -> None:
        if isinstance(self.default, bytes) and not isinstance(value, str | int):
            value = bytes(value)  # Qt's QByteArray (saveGeometry)
        if not isinstance(value, type(self.default)):
            raise TypeError(f"setting {self.key!r} takes {type(self.default).__name__}")
        if self.choices and value not in self.choices:
            raise ValueError(f"setting {self.key!r} must be one of {self.choices}, got {value!r}")
        obj.store.setValue(self.key, value)
        if self.sync:
            obj.store.sync()


class Settings:
    output_dir = _Setting("")  # empty: a `cutouts` folder beside each photo
    # comma-separated subset of engine.batch.export.EXPORT_FORMATS (`formats` reads it as a tuple)
    formats_text = _Setting("png", key="formats")
    background = _Setting("#ffffff")  # for JPEG export and the preview's colour background
    preview_background = _Setting("checker", ("checker", "white", "color"))
    theme = _Setting("dark", ("dark", "light"))
    model = _Setting("default")  # default | ensemble | my-ensemble | a model file path
    ensemble = _Setting("")  # JSON list of the model files in the operator's own ensemble
    device = _Setting("auto")  # auto | cpu | cuda (a device the machine lacks is said so)
    watch_folder = _Setting("")  # the Watch folder (hot folder) to watch again at start
    brush_size = _Setting(24, sync=False)  # every slider tick
    # listing frames (the export dialog): WIDTHxHEIGHT, backdrop colour, shadow, margin in %
    listing_size = _Setting("1600x1200")
    listing_backdrop = _Setting("#ffffff")
    listing_backdrop_bottom = _Setting("")  # a gradient's bottom colour; empty: a solid colour
    listing_backdrop_image = _Setting("")  # the studio's backdrop image; empty: the colour(s)
    listing_shadow_strength = _Setting(50)  # in %
    listing_shadow = _Setting("contact", SHADOWS)
    listing_margin = _Setting(6)
    listing_spin = _Setting(0)  # 1: a 360° spin page per car beside its frames
    resume_batch = _Setting(0)  # 1: the app was closed mid-batch; the batch goes on next start
    window_geometry = _Setting(b"")
    window_state = _Setting(b"")

    def __init__(self, store: QSettings | None = None):
        self.store = store or QSettings(ORGANIZATION, APPLICATION)

    @property
    def formats(self) -> tuple[str, ...]:
        from engine.batch.export import EXPORT_FORMATS

        chosen = [f for f in self.formats_text.split(",") if f in EXPORT_FORMATS]
        return tuple(chosen) or ("png",)

    @formats.setter
    def formats(self, formats: tuple[str, ...] | list[str]) -> None:
        self.formats_text = ",".join(formats)
