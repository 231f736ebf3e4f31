"""What a prediction gives a cutout: the main car (`select`) and its soft, clean edge
(`alpha`), as a `Matte`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.matte.select import Selection


@dataclass(frozen=True)
class Matte:
    """One photo's prediction, ready to export."""

    mask: np.ndarray  # H×W bool: the car (the main car alone unless every object is kept)
    alpha: np.ndarray  # H×W uint8: soft along the outline, ≥ 128 exactly where `mask` is set
    confidence: Any = None  # engine.review.confidence.Confidence, when asked for
    selection: Selection | None = None  # None: every object kept (--keep-all-objects)

    def report(self) -> dict:
        """The report's record of the main-object step."""
        if self.selection is None:
            return {"main_object": "off: every object kept"}
        return {"main_object": self.selection.to_json()}
