"""Before Qt starts on a Linux desktop: are the X11 (xcb) libraries its window plugin needs
there? Without them Qt prints a plugin error and aborts; a studio operator needs the one line
that installs them instead. No Qt is imported here (it is what could not load)."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

# the Debian/Ubuntu package of each library Qt 6's xcb plugin loads
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-shape.so.0": "libxcb-shape0",
}
APT_LINE = "sudo apt install " + " ".join(XCB_PACKAGES.values())


def _uses_xcb(env) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")  # Qt picks xcb on an X11 desktop


def _xcb_plugin_library() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        lib = Path(folder) / "Qt" / "lib" / "libQt6XcbQpa.so.6"
        if lib.is_file():
            return lib
    return None


def xcb_problem(env=None) -> str | None:
    """What to tell the operator when Qt's xcb plugin cannot load here; None when it can (or
    when Qt will not use xcb: another platform, Wayland, not Linux)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or not _uses_xcb(env):
        return None
    lib = _xcb_plugin_library()
    if lib is None:
        return None
    try:
        ctypes.CDLL(str(lib))
    except OSError as exc:
        missing = []
        for soname, package in XCB_PACKAGES.items():
            try:
                ctypes.CDLL(soname)
            except OSError:
                missing.append(package)
        lacking = ", ".join(missing) if missing else f"a library it needs ({exc})"
        return (
            "CarMask Studio cannot open its window: Qt's X11 (xcb) plugin lacks "
            f"{lacking}.\nInstall them with:\n    {APT_LINE}\n"
            "(or start it on another display server, e.g. QT_QPA_PLATFORM=wayland)"
        )
    return None
