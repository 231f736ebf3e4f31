"""The batch queue: photos grouped by car, each with a status, its model mask and its touch-ups.

Qt-free, so it is easy to test. A session lives in a folder (`session.json` plus one PNG per model
mask and per touched-up mask); every change is written atomically at once, so closing the app or
a crash loses nothing. Touch-ups are kept in their own file: a later model run writes only the
model mask and never replaces what the operator painted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.choices import StrChoice
from engine.intake import find_photos
from engine.io import (
    DEFAULT_MAX_MEGAPIXELS,
    ImageReadError,
    atomic_write_bytes,
    os_error_reason,
    read_mask,
    save_image_atomic,
    too_large_reason,
)
from engine.pairs import Pair
from engine.review import verdict


class Status(StrChoice):
    """Where a photo stands in the queue; session.json keeps the value ("done")."""

    QUEUED = "queued"
    PROCESSING = "processing"  # shown only: saved as queued (a stop mid-photo runs it again)
    DONE = "done"
    FAILED = "failed"
    TOUCHED = "touched"  # done, with the operator's touch-up over the model's mask


QUEUED, PROCESSING, DONE, FAILED, TOUCHED = Status
STATUSES = tuple(Status)
MIN_SIDE = 64  # smaller photos are refused: too little for a useful cutout
SESSION_FILE = "session.json"
_ANGLE = re.compile(r"^(?P<car>.+)_(?P<angle>\d{2})$")


@dataclass
class Photo:
    path: Path
    car: str
    size: tuple[int, int] = (0, 0)  # (width, height) from the file's header
    status: Status = QUEUED
    error: str = ""
    seconds: float = 0.0
    model: str = ""  # label of the model that made the mask
    confidence: float = -1.0  # how far to trust the model's mask, 0-1 (-1: not known)
    reasons: list[str] = field(default_factory=list)  # why it may need a look
    set_reasons: list[str] = field(default_factory=list)  # against its car's other angles
    reviewed: bool = False  # the operator accepted the cutout

    @property
    def key(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def has_mask(self) -> bool:
        return self.status in (DONE, TOUCHED)

    def to_json(self) -> dict:
        d = asdict(self)
        d["path"], d["size"] = str(self.path), list(self.size)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Photo:
        d = dict(d)
        d["path"], d["size"] = Path(d["path"]), tuple(d.get("size") or (0, 0))
        status = d.get("status", QUEUED)
        # the app stopped mid-photo: it is queued again; a status this version does not know
        # (a newer app's session) runs the photo again rather than hiding it
        d["status"] = QUEUED if status == PROCESSING or status not in STATUSES else Status(status)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def needs_review(photo: Photo) -> bool:
    """The model's mask is doubtful (`engine.review.verdict`, the rule `carmask predict --report`
    uses too), and the operator has neither accepted nor touched it up."""
    doubtful = verdict.needs_review(photo.confidence, photo.set_reasons)
    return photo.status == DONE and doubtful and not photo.reviewed


@dataclass
class AddReport:
    added: list[Photo] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.added)} photo(s) added"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already queued")
        if self.problems:
            parts.append(f"{len(self.problems)} cannot be used")
        return ", ".join(parts)


def car_of(path: Path) -> str:
    """Carvana-style `<car id>_<angle>` names give the car; otherwise the photo's folder."""
    m = _ANGLE.match(path.stem)
    return m.group("car") if m else path.parent.name or str(path.parent)


def check_photo(
    path: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> tuple[tuple[int, int] | None, str | None]:
    """(width, height) from the header, or a reason the file cannot be used. Cheap: the pixels
    are decoded later, on the worker, where a truncated file fails with its own reason."""
    try:
        if path.stat().st_size == 0:
            return None, "empty file (0 bytes)"
        with Image.open(path) as im:
            w, h = im.size
    except UnidentifiedImageError:
        return None, "not an image file (unrecognised content)"
    except OSError as exc:
        return None, f"unreadable: {os_error_reason(exc)}"
    if min(w, h) < MIN_SIDE:
        return None, f"too small ({w}×{h}; at least {MIN_SIDE} pixels a side)"
    if w * h > max_megapixels * 1e6:
        return None, too_large_reason(w, h, max_megapixels)
    return (w, h), None


def write_mask_file(path: Path, mask: np.ndarray) -> None:
    """A mask as a 1-bit PNG, atomically (thread-safe: touches only that file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image_atomic(path, mask.astype(bool), "PNG", compress_level=1)


def read_mask_file(path: Path) -> np.ndarray | None:
    try:
        return read_mask(path)
    except ImageReadError:
        return None


class Session:
    """The queue, in the order photos were added, persisted in `folder`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.photos: dict[str, Photo] = {}
        self.problems: list[tuple[Path, str]] = []

    # -- intake ----------------------------------------------------------------------------
    @staticmethod
    def scan(
        inputs: Iterable[str | Path], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    ) -> tuple[list[tuple[Path, tuple[int, int]]], list]:
        """Expand files/folders (recursively) and check each photo; slow, so run it on a worker.
        Returns ([(path, (w, h))], [(path, reason)])."""
        intake = find_photos(inputs, recursive=True)
        problems = list(intake.skipped)
        good = []
        for path in intake.photos:
            size, reason = check_photo(path, max_megapixels)
            if reason:
                problems.append((path, reason))
            else:
                good.append((path, size))
        return good, problems

    def add_checked(self, good, problems) -> AddReport:
        """Queue checked photos (from `scan`); the same file is queued once."""
        report = AddReport(problems=list(problems))
        queued = {Path(k).resolve() for k in self.photos}
        for path, size in good:
            path = Path(os.path.abspath(path))  # as given: a linked photo keeps its own name
            if path.resolve() in queued:
                report.duplicates.append(path)
                continue
            queued.add(path.resolve())
            photo = Photo(path, car_of(path), tuple(size))
            self.photos[photo.key] = photo
            report.added.append(photo)
        known = {p for p, _ in self.problems}
        self.problems += [(p, r) for p, r in problems if p not in known]
        self.save()
        return report

    def add(
        self, inputs: Iterable[str | Path], max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    ) -> AddReport:
        return self.add_checked(*self.scan(inputs, max_megapixels))

    def remove(self, keys: Iterable[str]) -> None:
        for key in list(keys):
            photo = self.photos.pop(key, None)
            if photo:
                for kind in ("model", "edit"):
                    self.mask_file(photo, kind).unlink(missing_ok=True)
        self.save()

    def clear_problems(self) -> None:
        self.problems = []
        self.save()

    # -- views -----------------------------------------------------------------------------
    def cars(self) -> dict[str, list[Photo]]:
        """Car → its photos sorted by name, cars in the order they were first added."""
        groups: dict[str, list[Photo]] = {}
        for photo in self.photos.values():
            groups.setdefault(photo.car, []).append(photo)
        return {car: sorted(ps, key=lambda p: p.name) for car, ps in groups.items()}

    def count(self, *statuses: Status) -> int:
        return sum(p.status in statuses for p in self.photos.values())

    def pending(self) -> list[Photo]:
        return [p for p in self.photos.values() if p.status in (QUEUED, FAILED)]

    # -- masks -----------------------------------------------------------------------------
    def mask_file(self, photo: Photo, kind: str) -> Path:
        """Where the model ("model") or touched-up ("edit") mask of a photo is kept."""
        digest = hashlib.sha1(photo.key.encode()).hexdigest()[:20]
        return self.folder / "masks" / f"{digest}_{kind}.png"

    def write_model_mask(self, photo: Photo, mask: np.ndarray) -> None:
        write_mask_file(self.mask_file(photo, "model"), mask)

    def model_mask(self, photo: Photo) -> np.ndarray | None:
        return read_mask_file(self.mask_file(photo, "model"))

    def mask(self, photo: Photo) -> np.ndarray | None:
        """The mask the operator sees and exports: the touch-up if any, else the model's."""
        edit = read_mask_file(self.mask_file(photo, "edit"))
        return edit if edit is not None else self.model_mask(photo)

    def masks(self, photo: Photo) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(the model's mask, the mask shown), each file decoded once."""
        model = self.model_mask(photo)
        edit = read_mask_file(self.mask_file(photo, "edit"))
        return model, edit if edit is not None else model

    def save_touchup(self, photo: Photo, mask: np.ndarray, model: np.ndarray | None = None) -> None:
        """Keep the operator's mask; a mask equal to the model's is no touch-up. `model`: the
        model's mask when the caller holds it (else it is read from disk)."""
        path = self.mask_file(photo, "edit")
        if model is None:
            model = self.model_mask(photo)
        if model is not None and np.array_equal(model, mask):
            path.unlink(missing_ok=True)
            photo.status = DONE
        else:
            write_mask_file(path, mask)
            photo.status = TOUCHED
        self.save()

    def discard_touchup(self, photo: Photo) -> None:
        self.mask_file(photo, "edit").unlink(missing_ok=True)
        if photo.status == TOUCHED:
            photo.status = DONE
        self.save()

    def corrections(self) -> list[Pair]:
        """The touched-up photos as training pairs (photo + the operator's mask)."""
        return [
            Pair(p.path, self.mask_file(p, "edit"), p.car)
            for p in self.photos.values()
            if p.status == TOUCHED and self.mask_file(p, "edit").is_file() and p.path.is_file()
        ]

    def requeue(self, photos: Iterable[Photo]) -> None:
        """Queue photos again (their masks and touch-ups stay on disk); one save for all."""
        for photo in photos:
            photo.status, photo.error = QUEUED, ""
        self.save()

    def set_status(
        self, photo: Photo, status: Status, error: str = "", save: bool = True, **fields
    ) -> None:
        """`save=False`: the caller saves later (a batch saves once a second, not per photo)."""
        if status == DONE and self.mask_file(photo, "edit").exists():
            status = TOUCHED  # a model run under a touch-up keeps the touch-up
        photo.status, photo.error = status, error
        for k, v in fields.items():
            setattr(photo, k, v)
        if save:
            self.save()

    # -- persistence -----------------------------------------------------------------------
    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "version": 1,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "photos": [p.to_json() for p in self.photos.values()],
            "problems": [[str(p), r] for p, r in self.problems],
        }
        atomic_write_bytes(self.folder / SESSION_FILE, json.dumps(data, indent=1).encode())

    @classmethod
    def load(cls, folder: str | Path) -> Session:
        """The saved session in `folder` (an empty one if there is none or it is unreadable)."""
        session = cls(folder)
        path = session.folder / SESSION_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return session
        for d in data.get("photos", []):
            try:
                photo = Photo.from_json(d)
            except (TypeError, KeyError):
                continue
            if photo.has_mask and not session.mask_file(photo, "model").exists():
                photo.status = QUEUED  # its mask was lost: run it again
            session.photos[photo.key] = photo
        session.problems = [(Path(p), r) for p, r in data.get("problems", [])]
        return session
