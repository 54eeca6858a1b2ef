"""Uploaded images (logos, banners, product photos): checked, re-encoded, served for a year.

An upload is refused unless Pillow recognises it as PNG, JPEG, WebP or GIF of at
most ``MEDIA_MAX_BYTES`` (2 MB). It is then decoded and encoded again, which
drops EXIF and other metadata (GPS positions from a phone photo, comments) and
anything a crafted file hid after the image data, resized to fit the caller's
box, and stored under ``MEDIA_FOLDER`` with the SHA-256 of its bytes as its
name. A name that is its content never changes meaning, so it is served with
``Cache-Control: public, max-age=31536000, immutable``.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.exceptions import NotFound

bp = Blueprint("media", __name__)

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
ONE_YEAR = 365 * 86400


class ImageRejected(ValueError):
    """An upload that is not an image we accept; the message is shown to the user."""


def media_folder() -> Path:
    return Path(current_app.config["MEDIA_FOLDER"])


def save_image(stream, max_width: int = 1600, max_height: int = 1600) -> str:
    """Check, re-encode and store an uploaded image; return its path under the media folder."""
    limit = current_app.config.get("MEDIA_MAX_BYTES", DEFAULT_MAX_BYTES)
    data = stream.read(limit + 1)
    if not data:
        raise ImageRejected(_l("The file is empty."))
    if len(data) > limit:
        raise ImageRejected(_l("The image is larger than %(mb)s MB.", mb=limit // (1024 * 1024)))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in ACCEPTED_FORMATS:
            raise ImageRejected(_l("Upload a PNG, JPEG, WebP or GIF image."))
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > 40_000_000:
            raise ImageRejected(_l("The image has too many pixels."))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ImageRejected(_l("Upload a PNG, JPEG, WebP or GIF image.")) from None
    image = ImageOps.exif_transpose(image)  # phones store rotation in EXIF, which we drop
    image.thumbnail((max_width, max_height), Image.Resampling.LANCZOS)
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if has_alpha:
        image.convert("RGBA").save(out, "PNG", optimize=True)
        ext = "png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
        ext = "jpg"
    body = out.getvalue()
    digest = hashlib.sha256(body).hexdigest()[:32]
    relative = f"{digest[:2]}/{digest}.{ext}"
    target = media_folder() / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, target)
    return relative


@bp.get("/media/<path:filename>")
def serve(filename: str):
    if filename.endswith(".tmp"):
        raise NotFound()
    response = send_from_directory(media_folder(), filename, max_age=ONE_YEAR)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response
