"""A test run cleans up after itself: runs on one machine (CI, a developer's laptop) must not
fill its disk. Each run converted the models for OpenVINO into a fresh temporary folder of some
600 MB and left it behind; a CI machine ran out of space after a few runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_test_run_removes_its_converted_models_folder(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CARMASK_CONVERTED"}
    env["TMPDIR"] = str(tmp)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "base"),
            "tests/test_markers.py::test_every_test_listed_as_slow_still_exists",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("carmask-")) == []
