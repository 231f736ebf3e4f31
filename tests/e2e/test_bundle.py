"""The PyInstaller bundle works without Python (opt-in: `pytest -m bundle`, after
`python packaging/build.py`): the bundled CLI segments sample photos exactly like the installed
package, the bundled studio window passes its self-test offscreen, the training child answers,
and no library comes from a Python installation. See packaging/smoke_check.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.bundle

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("CARMASK_BUNDLE", ROOT / "dist" / "CarMask Studio"))


@pytest.fixture(scope="module")
def report(load_script):
    if not BUNDLE.is_dir():
        pytest.skip(f"no bundle at {BUNDLE}: build it first with python packaging/build.py")
    return load_script("packaging/smoke_check.py").run_checks(BUNDLE, n_samples=3)


def test_both_executables_are_there(report):
    assert report.checks["carmask executable exists"]
    assert report.checks["carmask-studio executable exists"]


def test_cli_starts_without_python(report):
    assert report.checks["cli --help"], report.notes.get("cli --help")
    assert report.checks["cli --version"], report.notes.get("cli --version")


def test_cli_masks_match_the_installed_package(report):
    assert report.checks["cli predict: one photo"], report.notes.get("cli predict: one photo")
    assert len(report.masks) == 3
    for mask in report.masks:
        assert mask["dice"] >= 0.999, mask
        assert 0.05 < mask["car_fraction"] < 0.95, mask


def test_gui_self_test_passes_offscreen(report):
    assert report.checks["gui --self-test"], report.notes.get("gui --self-test")
    assert "car fraction" in report.notes["gui_self_test_line"]


def test_training_child_runs_in_the_bundle(report):
    assert report.checks["gui --engine-train --help"], report.notes.get("gui --engine-train --help")
    trained = {k: ok for k, ok in report.checks.items() if k.startswith("cli --engine-train: ")}
    if "training" not in report.notes:  # the test photos are here: one step really ran
        assert len(trained) == 2 and all(trained.values()), report.notes


def test_no_library_comes_from_python(report):
    if "libraries" in report.notes:
        pytest.skip(report.notes["libraries"])
    name = "libraries resolve inside the bundle or the system, none from Python"
    assert report.checks[name], report.notes.get(name)
    assert report.libraries["from_python"] == []
