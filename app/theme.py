"""The look of the app: qdarkstyle's dark or light palette, and the application icon."""

from __future__ import annotations

ICON_NAME = "carmask-studio"


def apply_theme(theme: str) -> None:
    """qdarkstyle's dark or light palette (dark by default)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    try:
        import qdarkstyle
        from qdarkstyle.light.palette import LightPalette

        if theme == "light":
            sheet = qdarkstyle.load_stylesheet(qt_api="pyside6", palette=LightPalette)
        else:
            sheet = qdarkstyle.load_stylesheet(qt_api="pyside6")
    except ImportError:
        sheet = ""
    app.setStyleSheet(sheet)
    app.setProperty("carmask_theme", theme)  # for what a style sheet cannot reach (charts)


def app_icon():
    """The application icon from resources/icons (every PNG size there); empty if not shipped."""
    from PySide6.QtGui import QIcon

    from engine.modelfiles.library import resources_dir

    icon = QIcon()
    for png in sorted((resources_dir() / "icons").glob(f"{ICON_NAME}-*.png")):
        icon.addFile(str(png))
    return icon
