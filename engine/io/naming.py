"""Which car and angle a photo shows, from its name: the one rule the batch, the listing frames,
review and training read. A turntable names its photos `<car>_<NN>` (Carvana's `<id>_01` ..
`<id>_16`): that gives both; any other photo's car is its folder and its angle is not known."""

from __future__ import annotations

import re
from pathlib import Path

ANGLE_NAME = re.compile(r"^(?P<car>.+)_(?P<angle>\d{2})$")


def car_and_angle(photo: Path) -> tuple[str, int | None]:
    """The car a photo shows and its angle: `<car>_<NN>` names give both (as a turntable
    shoots them); otherwise the photo's folder is the car and the angle is not known."""
    m = ANGLE_NAME.match(photo.stem)
    return (m.group("car"), int(m.group("angle"))) if m else (photo.parent.name, None)


def named_car(photo: Path) -> str | None:
    """The car a `<car>_<NN>` name gives, or None for any other name."""
    m = ANGLE_NAME.match(photo.stem)
    return m.group("car") if m else None
