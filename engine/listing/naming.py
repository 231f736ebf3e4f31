"""Listing frames named as listing sites want: a template such as `{stock}_{angle:02d}` filled
per photo from its car (`<car>_<angle>` names, else its folder), its angle (from the name, else
its place among the car's photos sorted by name), its stem, and a stock number or VIN the user
gives per car (`car,stock` lines; the car's id where none is given). No OpenCV or torch."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

FIELDS = ("car", "angle", "stem", "stock")
_ANGLE = re.compile(r"^(?P<car>.+)_(?P<angle>\d{2})$")  # as engine.pairs reads them
_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f]')  # what no file name may hold on any studio's disk


def car_and_angle(photo: Path) -> tuple[str, int | None]:
    """The car a photo shows and its angle: `<car>_<NN>` names give both (as a turntable
    shoots them); otherwise the photo's folder is the car and the angle is not known."""
    m = _ANGLE.match(photo.stem)
    return (m.group("car"), int(m.group("angle"))) if m else (photo.parent.name, None)


def check_template(template: str) -> str:
    """The template, or ValueError naming what is wrong with it."""
    try:
        sample = template.format(car="car", angle=1, stem="photo", stock="VIN")
    except (KeyError, IndexError) as exc:
        raise ValueError(
            f"unknown field {exc} in name template {template!r}; "
            f"use {', '.join('{' + f + '}' for f in FIELDS)}"
        ) from None
    except ValueError as exc:
        raise ValueError(f"name template {template!r}: {exc}") from None
    if not sample.strip() or _BAD.search(sample):
        raise ValueError(f"name template {template!r} makes no usable file name ({sample!r})")
    return template


def read_stock_numbers(path: str | Path) -> dict[str, str]:
    """`car,stock` per line (a header line `car,stock` may come first); ValueError naming the
    line that is not."""
    stocks: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}, line {n}: expected 'car,stock', got {','.join(row)!r}")
            car, stock = row[0].strip(), row[1].strip()
            if n == 1 and (car.lower(), stock.lower()) == ("car", "stock"):
                continue
            if _BAD.search(stock):
                raise ValueError(f"{path}, line {n}: {stock!r} cannot be part of a file name")
            stocks[car] = stock
    return stocks


def listing_names(
    template: str, photos: list[Path], stocks: dict[str, str] | None = None
) -> dict[Path, str]:
    """Each photo's listing name from the template (see the module's doc)."""
    stocks = stocks or {}
    cars: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for photo in photos:
        cars[(photo.parent, car_and_angle(photo)[0])].append(photo)
    names = {}
    for (_, car), members in cars.items():
        for place, photo in enumerate(sorted(members, key=lambda p: p.name), 1):
            known = car_and_angle(photo)[1]
            angle = place if known is None else known
            stock = stocks.get(car, car)
            names[photo] = template.format(car=car, angle=angle, stem=photo.stem, stock=stock)
    return names
