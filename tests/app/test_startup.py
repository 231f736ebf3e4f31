"""Start-up stays fast: the window, the CLI and the model library do not load torch (about 3 s
on a laptop) before the first photo needs a model; the pool loads it in the background."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("torch", "torchvision", "cv2")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.split()


def test_window_wizard_and_cli_modules_import_without_torch():
    """Opening the fine-tuning wizard imports its pages on the UI thread: no torch there."""
    assert _loaded_after("import app.main, app.window, app.finetune, engine.cli") == []


def test_cli_help_and_models_list_answer_without_torch():
    code = (
        "import contextlib, io\n"
        "from engine.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    assert main(['models', 'list']) == 0\n"
        "    try:\n"
        "        main(['predict', '--help'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0\n"
        "from engine.modelfiles.library import default_model_paths\n"
        "assert default_model_paths()[0].name in buf.getvalue(), buf.getvalue()\n"
        "assert '--ensemble' in buf.getvalue()\n"
    )
    assert _loaded_after(code) == []


def test_library_listing_reads_headers_without_torch():
    code = (
        "from engine.modelfiles.library import default_model_paths, list_library\n"
        "from engine.modelfiles.header import read_header\n"
        "found, errors = list_library()\n"
        "assert not errors, errors\n"
        "default = read_header(default_model_paths()[0])\n"
        "assert default in [h for _, h in found], found\n"
    )
    assert _loaded_after(code) == []


def _xcb_plugin_loads() -> bool:
    import ctypes

    from app.platform_check import _xcb_plugin_library

    try:
        ctypes.CDLL(str(_xcb_plugin_library()))
    except OSError:
        return False
    return True


def test_missing_x11_libraries_are_named_with_the_line_that_installs_them():
    """A plain Linux desktop without Qt's xcb libraries: the operator is told what to install
    (Qt itself would print a plugin error and abort)."""
    from app.platform_check import APT_LINE, xcb_problem

    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert xcb_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    problem = xcb_problem({"DISPLAY": ":0"})
    if _xcb_plugin_loads():
        assert problem is None
    else:
        assert problem is not None and APT_LINE in problem and "libxcb-" in problem


def test_carmask_studio_prints_the_hint_instead_of_aborting(tmp_path):
    if _xcb_plugin_loads():
        pytest.skip("this machine has Qt's xcb libraries (and no X display to open)")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run(
        [sys.executable, "-m", "app.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "sudo apt install libxcb-cursor0" in out.stderr
