"""`pytest -m "not slow"` runs the fast tests alone, and never brings in the opt-in ones (heavy,
gpu, bundle); the slow list (tests/slow_tests.py) names tests that exist."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from slow_tests import SLOW

ROOT = Path(__file__).resolve().parent.parent


def _collected(*args: str) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode in (0, 5), r.stdout + r.stderr  # 5: none collected
    return [line for line in r.stdout.splitlines() if "::" in line]


def test_the_fast_run_leaves_out_the_opt_in_bundle_tests():
    assert _collected("-m", "not slow", "tests/e2e/test_bundle.py") == []


def test_every_test_listed_as_slow_still_exists():
    for entry in SLOW:
        path, _, name = entry.partition("::")
        assert (ROOT / path).is_file(), f"{entry}: no such test file"
        if name:
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            tests = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in tests, f"{entry}: no such test in {path}"
