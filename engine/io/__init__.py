"""Reading photos and masks, finding image files, and writing outputs atomically.

Pure Pillow/numpy (OpenCV only for 16-bit colour PNGs); never imports Qt.

- `read`: photos as RGB with their alpha and notes, masks, size limits;
- `find`: image files among files and folders, and why the others are not used;
- `write`: atomic writes, CarMask's temp files;
- `errors`: `ImageReadError`, `OutputWriteError`.
"""

from engine.io.errors import ImageReadError, OutputWriteError, os_error_reason
from engine.io.find import find_images
from engine.io.read import (
    DEFAULT_MAX_MEGAPIXELS,
    IMAGE_SUFFIXES,
    Photo,
    decode_photo,
    memory_note,
    photo_bytes,
    read_icc_profile,
    read_mask,
    read_photo,
    read_rgb,
    too_large_reason,
)
from engine.io.write import (
    TEMP_PREFIX,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    image_writer,
    process_alive,
    remove_stale_temp_files,
    save_image_atomic,
)

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "IMAGE_SUFFIXES",
    "TEMP_PREFIX",
    "ImageReadError",
    "OutputWriteError",
    "Photo",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "decode_photo",
    "find_images",
    "image_writer",
    "memory_note",
    "os_error_reason",
    "photo_bytes",
    "process_alive",
    "read_icc_profile",
    "read_mask",
    "read_photo",
    "read_rgb",
    "remove_stale_temp_files",
    "save_image_atomic",
    "too_large_reason",
]
