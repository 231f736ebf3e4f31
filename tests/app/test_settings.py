"""Settings persist between runs as typed values; a damaged or foreign settings file never
breaks the app: a value of the wrong type or outside its choices reads as the default."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.settings import Settings


def _store(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_values_come_back_with_their_types_after_a_restart(tmp_path):
    first = Settings(_store(tmp_path))
    first.theme, first.brush_size, first.formats = "light", 57, ("png", "jpg")
    first.window_geometry = b"\x01\x02geometry"
    first.store.sync()
    again = Settings(_store(tmp_path))
    assert again.theme == "light" and again.brush_size == 57
    assert again.formats == ("png", "jpg") and again.window_geometry == b"\x01\x02geometry"
    (tmp_path / "settings.ini").read_text().index("formats=")  # the key earlier versions wrote


def test_damaged_values_read_as_the_defaults(tmp_path):
    (tmp_path / "settings.ini").write_text(
        "[General]\ntheme=purple\nbrush_size=huge\npreview_background=plaid\nformats=gif,bmp\n"
    )
    settings = Settings(_store(tmp_path))
    assert settings.theme == "dark" and settings.brush_size == 24
    assert settings.preview_background == "checker" and settings.formats == ("png",)


def test_a_wrong_value_is_refused_where_it_is_set(tmp_path):
    settings = Settings(_store(tmp_path))
    with pytest.raises(ValueError, match="theme"):
        settings.theme = "purple"
    with pytest.raises(TypeError, match="brush_size"):
        settings.brush_size = "big"
    assert settings.theme == "dark" and settings.brush_size == 24
