"""The engine never imports Qt or the app (checked on the real import graph), and the
architecture page names every package."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_imports_no_qt_at_runtime():
    code = (
        "import sys, engine.cli, engine.train, engine.inference.predict, engine.training.data\n"
        "import engine.batch.export\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6','PyQt5','PyQt6','qtpy','superqt','qdarkstyle','app'))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_linter_contract():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout


def _packages() -> list[str]:
    """Every package of the engine and the app (a folder with an `__init__.py`), as `engine/io`."""
    inits = [*ROOT.glob("engine/**/__init__.py"), *ROOT.glob("app/**/__init__.py")]
    return sorted(init.parent.relative_to(ROOT).as_posix() for init in inits)


def _named(package: str, page: str) -> bool:
    dotted = re.escape(package.replace("/", "."))
    return f"{package}/" in page or re.search(rf"(?<![\w.]){dotted}(?!\w)", page) is not None


def test_architecture_page_names_every_engine_and_app_package():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = _packages()
    assert "engine/batch" in packages and "app/editor" in packages  # the walk finds them
    missing = [package for package in packages if not _named(package, page)]
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"
