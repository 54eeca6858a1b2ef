"""Share posters: a PNG with the product picture, price, store name and a QR code of the link.

Chinese text needs a CJK font. We look for one by path at run time (Debian's
``fonts-noto-cjk`` or ``fonts-wqy-microhei``/``fonts-wqy-zenhei``, or the
``SHOPBUILDER_POSTER_FONT`` setting) and fall back to Pillow's built-in font,
which draws Latin text only: a poster is still made, with the QR code, when
no CJK font is installed.
"""

from __future__ import annotations

import io
import logging
import os
from functools import lru_cache

import qrcode
from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from shopbuilder.money import format_fen

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
WIDTH, HEIGHT = 750, 1100
PICTURE = 750
QR_SIZE = 220


def find_font_path(candidates=FONT_CANDIDATES) -> str | None:
    """The first CJK font that exists, the configured one first; None if there is none."""
    configured = current_app.config.get("POSTER_FONT") if current_app else None
    for path in ((configured,) if configured else ()) + tuple(candidates):
        if path and os.path.exists(path):
            return path
    return None


@lru_cache(maxsize=16)
def _font(path: str | None, size: int):
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            log.warning("poster font %s could not be read; using the built-in font", path)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one size only
        return ImageFont.load_default()


def product_image(relative: str | None) -> Image.Image | None:
    """The product's stored picture (a path in the media folder), or None."""
    if not relative or "://" in relative:
        return None
    folder = current_app.config.get("MEDIA_FOLDER")
    if not folder:
        return None
    path = os.path.normpath(os.path.join(folder, relative))
    if not path.startswith(os.path.normpath(folder) + os.sep) or not os.path.exists(path):
        return None
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except OSError:
        log.warning("poster could not read product image %s", relative)
        return None


def qr_image(link: str, size: int = QR_SIZE) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(link)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").convert("RGB").resize(
        (size, size), Image.NEAREST)


def _fit(draw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def render(*, title: str, price_fen: int | None, store_name: str, link: str,
           image: Image.Image | None, price_label: str | None = None) -> bytes:
    """Draw the poster and return PNG bytes; ``price_label`` names the price ("Group price")."""
    font_path = find_font_path()
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    if image is not None:
        picture = image.copy()
        picture.thumbnail((PICTURE, PICTURE))
        canvas.paste(picture, ((WIDTH - picture.width) // 2, (PICTURE - picture.height) // 2))
    else:
        ImageDraw.Draw(canvas).rectangle((0, 0, WIDTH, PICTURE), fill="#f3efe6")
    draw = ImageDraw.Draw(canvas)
    if image is None:
        big = _font(font_path, 72)
        name = _fit(draw, store_name, big, WIDTH - 80)
        draw.text((WIDTH // 2, PICTURE // 2), name, font=big, fill="#333333", anchor="mm")
    text_width = WIDTH - QR_SIZE - 90
    top = PICTURE + 30
    draw.text((30, top), _fit(draw, title, _font(font_path, 40), text_width),
              font=_font(font_path, 40), fill="#222222")
    if price_fen is not None:
        price_text = format_fen(price_fen)
        draw.text((30, top + 70), price_text, font=_font(font_path, 56), fill="#d0021b")
        if price_label:
            left = 30 + draw.textlength(price_text, font=_font(font_path, 56)) + 16
            draw.text((left, top + 92), _fit(draw, price_label, _font(font_path, 30),
                                             max(0, text_width - int(left))),
                      font=_font(font_path, 30), fill="#d0021b")
    draw.text((30, HEIGHT - 70), _fit(draw, store_name, _font(font_path, 30), text_width),
              font=_font(font_path, 30), fill="#666666")
    canvas.paste(qr_image(link), (WIDTH - QR_SIZE - 30, PICTURE + 40))
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()
