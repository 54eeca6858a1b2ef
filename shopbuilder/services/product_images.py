"""Product photos: checked, re-encoded, a thumbnail made, named by content hash.

Product photos may be larger (5 MB) than theme images and need a thumbnail, so
they have their own entry point here; :mod:`shopbuilder.media` serves them
(``media.serve``) with a year-long, immutable cache. A file's name is the
SHA-256 of its bytes, so a URL always means the same picture. Uploads
are decoded and re-encoded by Pillow, which drops anything that is not pixels
(EXIF with GPS positions, scripts hidden in polyglot files) and refuses what
is not an image at all.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
LARGE_EDGE = 1600
THUMB_EDGE = 400
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


class MediaError(ValueError):
    pass


@dataclass
class StoredImage:
    path: str
    thumb_path: str
    width: int
    height: int


def media_folder() -> str:
    return current_app.config["MEDIA_FOLDER"]


def _encode(image: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image.convert("RGBA").save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "png"
    image.convert("RGB").save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    return buffer.getvalue(), "jpg"


def _store_bytes(data: bytes, ext: str, folder: str = "products") -> str:
    digest = hashlib.sha256(data).hexdigest()
    relative = f"{folder}/{digest[:2]}/{digest}.{ext}"
    target = os.path.join(media_folder(), relative)
    if not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = f"{target}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    return relative


def save_image(stream, folder: str = "products") -> StoredImage:
    """Check, re-encode and store an uploaded image and its thumbnail."""
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise MediaError(_l("The image is larger than 5 MB."))
    if not data:
        raise MediaError(_l("Choose an image file."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise MediaError(_l("Upload a JPEG, PNG, WebP or GIF image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise MediaError(_l("The image has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            image.thumbnail((LARGE_EDGE, LARGE_EDGE))
            large, ext = _encode(image)
            width, height = image.size
            thumb = image.copy()
            thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
            small, thumb_ext = _encode(thumb)
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(_l("This file is not an image we can read.")) from exc
    return StoredImage(
        path=_store_bytes(large, ext, folder), thumb_path=_store_bytes(small, thumb_ext, folder),
        width=width, height=height,
    )
