"""What a prediction gives a cutout: the main car (`select`) and its soft, clean edge
(`alpha`), as a `Matte`. No OpenCV at this level: the CLI's start (and `--help`) imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.matte.select import Selection


def alpha_u8(mask: np.ndarray) -> np.ndarray:
    """Mask as uint8 alpha: bool -> 0/255, uint8 as is, floats in 0..1 -> 0..255."""
    if mask.dtype == np.bool_:
        return mask.view(np.uint8) * np.uint8(255)
    if mask.dtype == np.uint8:
        return mask
    if np.issubdtype(mask.dtype, np.floating):
        return np.round(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(f"mask must be bool, uint8 or float, got {mask.dtype}")


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
