"""The touch-up editor's painting maths (app.editor.paint): numpy only, no QApplication."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from app.editor.paint import MIN_RADIUS, Stroke, changed_box, paint_segment


def test_changed_box():
    diff = np.zeros((10, 20), bool)
    assert changed_box(diff) is None
    diff[2, 3] = diff[6, 15] = True
    assert changed_box(diff) == (3, 2, 13, 5)


def test_a_dab_covers_the_pixels_whose_centre_is_within_the_radius():
    mask = np.zeros((9, 9), bool)
    box = paint_segment(mask, (4.5, 4.5), (4.5, 4.5), 2.0, True)
    assert box == [2, 2, 7, 7]
    ys, xs = np.nonzero(mask)
    assert np.all((xs + 0.5 - 4.5) ** 2 + (ys + 0.5 - 4.5) ** 2 <= 4.0)
    assert mask.sum() == 13  # the pixel centres within 2 of the centre pixel's centre
    # the smallest dab still covers the pixel under the pointer, wherever in it
    tiny = np.zeros((3, 3), bool)
    paint_segment(tiny, (1.01, 1.99), (1.01, 1.99), MIN_RADIUS, True)
    assert tiny[1, 1]


def test_a_segment_is_a_round_capped_line_and_the_eraser_clears():
    mask = np.zeros((20, 40), bool)
    paint_segment(mask, (5.0, 10.0), (35.0, 10.0), 3.0, True)
    assert mask[10, 5:35].all() and mask[8:13, 20].all() and not mask[5, 20]
    paint_segment(mask, (20.0, 0.0), (20.0, 20.0), 1.0, False)
    assert not mask[:, 19:21].any() and mask[10, 17]


def test_off_the_mask_paints_nothing():
    mask = np.zeros((10, 10), bool)
    assert paint_segment(mask, (-20.0, -20.0), (-15.0, -18.0), 2.0, True) is None
    assert not mask.any()


def test_a_stroke_grows_its_box_and_keeps_the_mask_before():
    mask = np.zeros((30, 30), bool)
    stroke = Stroke(2.0, True, mask.copy())
    assert stroke.to(mask, 5.0, 5.0) == [3, 3, 7, 7]
    stroke.to(mask, 25.0, 20.0)
    assert stroke.box == [3, 3, 27, 22]
    assert not stroke.before.any() and mask[5, 5] and mask[20, 25]


def test_painting_imports_no_qt():
    code = "import sys, app.editor.paint; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
