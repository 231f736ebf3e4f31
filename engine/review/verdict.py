"""Whether a finished cutout needs a look: the one rule the studio's queue and `carmask predict
--report` share, so a script routes the same photos an operator would be shown. No OpenCV here:
the window imports it at start-up."""

from __future__ import annotations

from collections.abc import Sequence

REVIEW_BELOW = 0.5  # a check scoring below this names its reason: the photo needs review


def needs_review(confidence: float, set_reasons: Sequence[str] = ()) -> bool:
    """A cutout needs review when one of its checks scored low (`engine.review.confidence`:
    its confidence is below `REVIEW_BELOW`, and it names the reason) or the checks across its
    car's angles (`engine.review.angles`) flagged it. A confidence below 0 is not known."""
    return bool(0 <= confidence < REVIEW_BELOW) or bool(set_reasons)
