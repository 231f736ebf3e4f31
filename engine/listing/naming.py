"""Listing frames named as listing sites want: a template such as `{stock}_{angle:02d}` filled
per photo from its car (`<car>_<angle>` names, else its folder), its angle (from the name, else
its place among the car's photos sorted by name), its stem, and a stock number or VIN the user
gives per car (`car,stock` lines; the car's id where none is given). No OpenCV or torch.

A name is never silently shared or made up: a stock file listing a car twice with two numbers,
two cars with one number or a number that makes a hidden file is refused (`read_stock_numbers`),
as are names that two photos would share and hidden names (`listing_names`), before any photo
is read; a car the stock file lacks is named by its id, and `unlisted_cars` says which."""

from __future__ import annotations

import csv
import re
import string
from collections import defaultdict
from pathlib import Path

from engine.io.naming import car_and_angle

FIELDS = ("car", "angle", "stem", "stock")
_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f]')  # what no file name may hold on any studio's disk


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
    if not sample.strip() or _BAD.search(sample) or sample.startswith("."):
        raise ValueError(f"name template {template!r} makes no usable file name ({sample!r})")
    return template


def uses_stock(template: str) -> bool:
    """Whether the template's names hold the cars' stock numbers."""
    return any(field == "stock" for _, field, _, _ in string.Formatter().parse(template))


def read_stock_numbers(path: str | Path) -> dict[str, str]:
    """`car,stock` per line (a header line `car,stock` may come first); ValueError naming the
    line that is not, or the two lines that give a car two numbers or two cars one number."""
    stocks: dict[str, str] = {}
    line_of: dict[str, int] = {}  # car: its line
    owner: dict[str, str] = {}  # stock (case-folded: one file name on any disk): its car
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
            if stock.startswith("."):
                raise ValueError(f"{path}, line {n}: {stock!r} would make hidden file names")
            if car in stocks and stocks[car] != stock:
                raise ValueError(
                    f"{path}, lines {line_of[car]} and {n}: car {car!r} is listed twice, as "
                    f"{stocks[car]!r} and {stock!r}"
                )
            other = owner.setdefault(stock.casefold(), car)
            if other != car:
                raise ValueError(
                    f"{path}, lines {line_of[other]} and {n}: cars {other!r} and {car!r} have "
                    f"one stock number, {stock!r}"
                )
            stocks[car] = stock
            line_of.setdefault(car, n)
    return stocks


def _cars(photos: list[Path]) -> dict[tuple[Path, str], list[Path]]:
    """The photos of each car: (its folder, its id)."""
    cars: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for photo in photos:
        cars[(photo.parent, car_and_angle(photo)[0])].append(photo)
    return cars


def unlisted_cars(photos: list[Path], stocks: dict[str, str]) -> dict[str, list[Path]]:
    """The cars (`folder/car`) a stock file lacks, and their photos: named by their id."""
    return {
        str(folder / car): members
        for (folder, car), members in _cars(photos).items()
        if car not in stocks
    }


def listing_names(
    template: str, photos: list[Path], stocks: dict[str, str] | None = None
) -> dict[Path, str]:
    """Each photo's listing name from the template (see the module's doc); ValueError naming
    the photos when two would have one name (on any disk: case-folded) or a name is hidden."""
    stocks = stocks or {}
    names = {}
    for (_, car), members in _cars(photos).items():
        for place, photo in enumerate(sorted(members, key=lambda p: p.name), 1):
            known = car_and_angle(photo)[1]
            angle = place if known is None else known
            stock = stocks.get(car, car)
            names[photo] = template.format(car=car, angle=angle, stem=photo.stem, stock=stock)
    _check_names(template, names)
    return names


def _check_names(template: str, names: dict[Path, str]) -> None:
    sharing: dict[str, list[Path]] = defaultdict(list)
    for photo, name in names.items():
        if name.startswith("."):
            raise ValueError(f"name template {template!r} names {photo} {name!r}: a hidden file")
        sharing[name.casefold()].append(photo)
    for same in sharing.values():
        if len(same) > 1:
            a, b = same[:2]
            more = f" and {len(same) - 2} more" if len(same) > 2 else ""
            cars = {(p.parent, car_and_angle(p)[0]) for p in same}
            if len(cars) == 1:
                hint = "add {angle} or {stem}"
            elif len({car for _, car in cars}) == 1:
                hint = "one car id in two folders: write them to two --out folders (or add {stem})"
            else:
                hint = "add {car} or {stem}"
            raise ValueError(
                f"name template {template!r} gives {a} and {b}{more} one name, {names[a]!r}: {hint}"
            )
