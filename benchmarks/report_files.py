"""Benchmark reports in two files: the summary, kept in git (`benchmarks/results/NAME.json`), and
the per-photo dump beside it in `per-photo/NAME.json` (ignored by git: one row per photo makes the
committed files large and their diffs unreadable). The summary names its dump in `per_photo_file`.

Imported by the benchmark scripts as `benchmarks.report_files` (they put the checkout first on
`sys.path`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from engine.io import atomic_write_json

DUMP_FOLDER = "per-photo"


def dump_path(out: str | Path) -> Path:
    """Where the per-photo dump of the summary at `out` is written."""
    out = Path(out)
    return out.parent / DUMP_FOLDER / out.name


def write_report(out: str | Path, report: dict, per_photo: list[tuple[str, ...]]) -> Path:
    """Write `report` at `out` without its per-photo parts, named by key paths (e.g.
    `("sets", "web", "rows")`): they go, nested as in the report, to `dump_path(out)`, written
    first. `report` itself is left as it is. Returns `out`."""
    summary, dump = copy.deepcopy(report), {}
    for keys in per_photo:
        source, target = summary, dump
        for key in keys[:-1]:
            source, target = source[key], target.setdefault(key, {})
        target[keys[-1]] = source.pop(keys[-1])
    atomic_write_json(dump_path(out), dump, indent=2)
    summary["per_photo_file"] = f"{DUMP_FOLDER}/{Path(out).name}"
    return atomic_write_json(out, summary, indent=2)


def read_report(out: str | Path) -> dict:
    """The summary at `out` with its per-photo dump put back in place (the whole report)."""
    out = Path(out)
    summary = _read(out)
    if "per_photo_file" in summary:
        _merge(summary, _read(out.parent / summary.pop("per_photo_file")))
    return summary


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _merge(into: dict, parts: dict) -> None:
    for key, value in parts.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
