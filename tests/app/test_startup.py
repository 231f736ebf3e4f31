"""Start-up stays fast: the window, the CLI and the model library do not load torch (about 3 s
on a laptop) before the first photo needs a model; the pool loads it in the background."""

import subprocess
import sys
from pathlib import Path

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
        "from engine.library import default_model_paths\n"
        "assert default_model_paths()[0].name in buf.getvalue(), buf.getvalue()\n"
        "assert '--ensemble' in buf.getvalue()\n"
    )
    assert _loaded_after(code) == []


def test_library_listing_reads_headers_without_torch():
    code = (
        "from engine.library import default_model_paths, list_library\n"
        "from engine.model_header import read_header\n"
        "found, errors = list_library()\n"
        "assert not errors, errors\n"
        "default = read_header(default_model_paths()[0])\n"
        "assert default in [h for _, h in found], found\n"
    )
    assert _loaded_after(code) == []
