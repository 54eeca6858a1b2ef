"""Banners and theme settings for the demo stores, drawn with Pillow (no files to ship)."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFilter

from .. import settings as settings_store
from ..media import save_image

WIDTH, HEIGHT = 1200, 600


def _hills_banner() -> bytes:
    """Misty green hills over a lake: the light classic look."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    for y in range(HEIGHT):
        t = y / HEIGHT
        colour = (int(226 - 40 * t), int(238 - 22 * t), int(230 - 30 * t))
        draw.line([(0, y), (WIDTH, y)], fill=colour)
    for layer, (colour, base, amp) in enumerate([
        ((160, 190, 165), 300, 70), ((112, 152, 120), 360, 60), ((70, 112, 84), 420, 45),
    ]):
        points = [(0, HEIGHT)]
        for x in range(0, WIDTH + 20, 20):
            y = base - amp * math.sin(x / (180 + 60 * layer) + layer) - 25 * math.sin(x / 57.0)
            points.append((x, y))
        points.append((WIDTH, HEIGHT))
        draw.polygon(points, fill=colour)
    draw.rectangle([0, 470, WIDTH, HEIGHT], fill=(196, 218, 214))
    for x in range(0, WIDTH, 90):
        y = 500 + (x % 7) * 6
        draw.line([(x + 10, y), (x + 60, y)], fill=(226, 238, 236), width=2)
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(1)).save(out, "PNG")
    return out.getvalue()


def _teahouse_banner() -> bytes:
    """A warm lamp glow over a dark table with a tea bowl: the tea-house look."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (20, 17, 15))
    glow = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(glow).ellipse([250, -200, 950, 500], fill=255)
    glow = glow.filter(ImageFilter.GaussianBlur(140))
    lamp = Image.new("RGB", (WIDTH, HEIGHT), (120, 78, 36))
    image.paste(lamp, mask=glow.point(lambda v: v * 0.7))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 430, WIDTH, HEIGHT], fill=(43, 30, 22))
    draw.ellipse([470, 300, 730, 470], fill=(217, 164, 65))
    draw.ellipse([490, 300, 710, 360], fill=(94, 62, 28))
    draw.ellipse([520, 440, 680, 470], fill=(30, 22, 17))
    for i, x in enumerate((560, 600, 640)):
        for k in range(8):
            y = 280 - k * 22
            draw.ellipse([x + 8 * math.sin(k + i), y, x + 8 * math.sin(k + i) + 6, y + 14],
                         fill=(90, 80, 70))
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(2)).save(out, "PNG")
    return out.getvalue()


DEMO = {
    "west-lake": ("classic", _hills_banner, {
        "tagline": "西湖边的一杯好茶", "banner_alt": "西湖边的青山与湖水",
    }),
    "old-town": ("classic", _hills_banner, {
        "tagline": "平江路上的老茶铺", "banner_alt": "烟雨中的青山与湖水",
        "accent_colour": "#1f6f43", "card_style": "list",
    }),
    "riverside": ("teahouse", _teahouse_banner, {
        "tagline": "一盏好茶，慢慢喝", "banner_alt": "暖灯下的一只茶盏",
        "story": "滨江店开在江边，一楼卖茶，二楼喝茶。每一款茶都由店长亲自试饮，"
                 "好茶不贵，欢迎来坐坐。",
    }),
}


def decorate_demo_stores(stores: dict) -> None:
    """Give the demo stores a banner and a few theme settings (called by ``load_demo``)."""
    banners = {}
    for slug, store in stores.items():
        if slug not in DEMO:
            continue
        theme, draw, values = DEMO[slug]
        if draw not in banners:
            banners[draw] = save_image(io.BytesIO(draw()), 1600, 800)
        settings_store.set_store_values(
            store, f"theme:{theme}", {**values, "banner": banners[draw]}
        )
