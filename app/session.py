"""The batch queue: photos grouped by car, each with a status, its model mask and its touch-ups.

Qt-free, so it is easy to test. A session lives in a folder (`session.json` plus one PNG per model
mask and per touched-up mask); every change is written atomically at once, so closing the app or
a crash loses nothing. Touch-ups are kept in their own file: a later model run writes only the
model mask and never replaces what the operator painted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.choices import StrChoice
from engine.batch.intake import find_photos, shot_of
from engine.io import (
    DEFAULT_MAX_MEGAPIXELS,
    ImageReadError,
    atomic_write_bytes,
    os_error_reason,
    read_mask,
    save_image_atomic,
    too_large_reason,
)
from engine.review import verdict
from engine.training.pairs import Pair


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
REMOVED_DIR = "removed"  # the mask files of removed photos, until undone or the next start


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
    def angle(self) -> int | None:
        """The angle its name gives (`<car>_<NN>`); None for a single photo."""
        return shot_of(self.path).angle

    @property
    def label(self) -> str:
        """How the queue names it: "angle 09" under its car, else its file name."""
        angle = self.angle
        return f"angle {angle:02d}" if angle is not None else self.name

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
        d["car"] = car_of(d["path"])  # grouped as this version groups (older: by folder)
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
    """Carvana-style `<car id>_<angle>` names give the car; any other photo is a group of its
    own (`engine.batch.intake.shot_of`), named by its path."""
    return shot_of(path).car


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


@dataclass
class Removal:
    """Photos taken out of the queue, kept so that the removal can be undone: the photos (status,
    confidence, ...), the queue's order before, and their mask files, moved to `masks`."""

    photos: list[Photo]
    order: list[str]
    masks: Path


class Session:
    """The queue, in the order photos were added, persisted in `folder`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.photos: dict[str, Photo] = {}
        self.problems: list[tuple[Path, str]] = []
        self.removals: list[Removal] = []  # undoable, the last one last
        self._before_rerun: dict[str, Photo] = {}  # a finished photo queued again: as it was
        self._discard_touchups: set[str] = set()  # once their new model mask is in

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
            if size is None:
                problems.append((path, reason or "cannot be used"))
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

    def remove(self, keys: Iterable[str]) -> Removal:
        """Take photos out of the queue; their masks and touch-ups are moved aside, so that
        `undo_remove` brings them back as they were (until the app starts again)."""
        removal = Removal([], list(self.photos), self.folder / REMOVED_DIR / f"{time.time_ns()}")
        for key in list(keys):
            photo = self.photos.pop(key, None)
            if photo is None:
                continue
            if key in self._before_rerun:  # removed mid-rerun: it comes back as it was
                photo = self._saved(photo)
                del self._before_rerun[key]
            removal.photos.append(photo)
            for kind in ("model", "edit"):
                path = self.mask_file(photo, kind)
                if path.exists():
                    removal.masks.mkdir(parents=True, exist_ok=True)
                    os.replace(path, removal.masks / path.name)
        if removal.photos:
            self.removals.append(removal)
        self.save()
        return removal

    def forget_removed(self) -> None:
        """Removals can no longer be undone (the app starts): their mask files go."""
        self.removals.clear()
        shutil.rmtree(self.folder / REMOVED_DIR, ignore_errors=True)

    def undo_remove(self) -> list[Photo]:
        """Bring back the photos of the last removal, in their places, with their masks,
        touch-ups and statuses (a photo queued again since then keeps its new place)."""
        if not self.removals:
            return []
        removal = self.removals.pop()
        back = {p.key: p for p in removal.photos if p.key not in self.photos}
        for photo in back.values():
            for kind in ("model", "edit"):
                kept = removal.masks / self.mask_file(photo, kind).name
                if kept.exists():
                    self.mask_file(photo, kind).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(kept, self.mask_file(photo, kind))
        shutil.rmtree(removal.masks, ignore_errors=True)
        merged = {**self.photos, **back}
        order = [k for k in removal.order if k in merged]
        order += [k for k in self.photos if k not in removal.order]  # queued since
        self.photos = {k: merged[k] for k in order}
        self.save()
        return list(back.values())

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

    def requeue(self, photos: Iterable[Photo], discard_touchups: Iterable[str] = ()) -> None:
        """Queue photos again (their masks and touch-ups stay on disk); one save for all.

        A photo with a finished cutout keeps it until its new mask comes: until then (a batch
        cancelled, the app closed or crashed) `settle_reruns` and `session.json` have it as it
        was, so Export still counts it. `discard_touchups` (keys): those touch-ups go once the
        photo's new model mask is in, not before."""
        for photo in photos:
            if photo.has_mask and photo.key not in self._before_rerun:
                self._before_rerun[photo.key] = copy.deepcopy(photo)
            photo.status, photo.error = QUEUED, ""
        self._discard_touchups.update(discard_touchups)
        self.save()

    def settle_reruns(self) -> list[Photo]:
        """The batch ended: each photo queued again that got no new result is back as it was
        (its masks were not replaced); returns them."""
        back = []
        for key, before in self._before_rerun.items():
            photo = self.photos.get(key)
            if photo is not None and photo.status in (QUEUED, PROCESSING):
                was = self._as_before(before)
                for name in Photo.__dataclass_fields__:
                    setattr(photo, name, getattr(was, name))
                back.append(photo)
        self._before_rerun.clear()
        self._discard_touchups.clear()
        return back

    def _as_before(self, before: Photo) -> Photo:
        edit = self.mask_file(before, "edit").exists()
        return replace(before, status=TOUCHED if edit else DONE)

    def set_status(
        self, photo: Photo, status: Status, error: str = "", save: bool = True, **fields
    ) -> None:
        """`save=False`: the caller saves later (a batch saves once a second, not per photo)."""
        if status == DONE and photo.key in self._discard_touchups:
            self.mask_file(photo, "edit").unlink(missing_ok=True)  # the operator chose the new
        if status == DONE and self.mask_file(photo, "edit").exists():
            status = TOUCHED  # a model run under a touch-up keeps the touch-up
        if status in (DONE, FAILED):
            self._before_rerun.pop(photo.key, None)  # its new result counts
            self._discard_touchups.discard(photo.key)
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
            "photos": [self._saved(p).to_json() for p in self.photos.values()],
            "problems": [[str(p), r] for p, r in self.problems],
        }
        atomic_write_bytes(self.folder / SESSION_FILE, json.dumps(data, indent=1).encode())

    def _saved(self, photo: Photo) -> Photo:
        """As the photo is kept on disk: one queued again still has its cutout until a new one
        comes (a crash mid-batch loses neither)."""
        before = self._before_rerun.get(photo.key)
        return self._as_before(before) if before and photo.status in (QUEUED, PROCESSING) else photo

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
