"""The photos of a cluster batch: local folders through `find_photos`, and `s3://`, `gs://` (or
`file://`) URIs through the filesystems pyarrow has (the ones Ray Data reads with), so that the
nodes read the photos straight from the bucket."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import cast

from engine.batch.intake import Intake, find_photos
from engine.io import IMAGE_SUFFIXES

__all__ = ["find_sources", "is_uri"]

_OWN_PREFIXES = (".cm-", ".carmask")


def is_uri(text: str) -> bool:
    return "://" in str(text)


def _listed(uri: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Photo URIs under `uri` (a file or a prefix, searched recursively), sorted, and the
    other objects with the reason each is not used."""
    from pyarrow import fs

    scheme = uri.split("://", 1)[0]
    try:
        filesystem, root = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(root)
        if info.type == fs.FileType.Directory:
            infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
        elif info.type == fs.FileType.File:
            infos = [info]
        else:
            return [], [(uri, "not found")]
    except (OSError, ValueError) as exc:  # no credentials, no such bucket, unknown scheme
        return [], [(uri, f"cannot list it: {exc}")]
    photos, skipped = [], []
    for i in infos:
        if i.type != fs.FileType.File:
            continue
        path = PurePosixPath(i.path)
        where = f"{scheme}://{i.path}"
        inside = path != PurePosixPath(root)
        relative = path.relative_to(root) if inside else PurePosixPath(path.name)
        if path.name.startswith(_OWN_PREFIXES):
            continue
        if any(part.startswith(".") for part in relative.parts[:-1]):
            continue  # hidden folders are not searched, as find_photos does
        if path.name.startswith("."):
            skipped.append((where, "hidden file"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((where, f"not a supported image type ({path.suffix or 'no extension'})"))
        else:
            photos.append(where)
    return sorted(photos, key=lambda u: (u.lower(), u)), skipped


def find_sources(inputs) -> tuple[Intake, dict[Path, str]]:
    """The batch's intake, and each photo's source as the stages read it (its path, or its
    URI). A URI's photo appears in the intake as a `Path` of its URI (for names and messages)."""
    local = [i for i in inputs if not is_uri(i)]
    intake = find_photos(local) if local else Intake()
    source = {p: str(p) for p in intake.photos}
    for uri in (i for i in inputs if is_uri(i)):
        photos, skipped = _listed(str(uri))
        for u in photos:
            if Path(u) not in source:
                intake.photos.append(Path(u))
                source[Path(u)] = u
        intake.skipped += [(cast(Path, u), why) for u, why in skipped]  # shown as given
    return intake, source
