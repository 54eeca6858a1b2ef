"""Pickup codes: 12 digits nobody can guess, never stored, and a signed QR token.

The code is derived, with HMAC-SHA256 under the app's secret, from a random
nonce (``secrets``, the OS CSPRNG) kept on the pickup row; the row stores only
the code's own HMAC (``code_hash``), which is what a clerk's typed code is
looked up by. So a copy of the database alone gives no codes, the customer can
still be shown theirs again, and the lookup compares keyed hashes through an
index rather than codes. ``open_code_hash`` repeats the hash while the code is
open and is unique per chain: two open codes of a chain never collide (a clash
draws a new nonce). Changing ``SECRET_KEY`` invalidates open codes.

The QR code carries ``itsdangerous``-signed ``{"c": code}``: a scanner that
reads it gets nothing a forger could mint, and the counter page accepts either.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets

import qrcode
import qrcode.image.svg
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from shopbuilder.extensions import db

from .models import PickupOrder

DIGITS = 12
QR_SALT = "shopbuilder.pickup.qr"


def _secret() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def code_from_nonce(nonce: str) -> str:
    digest = hmac.new(_secret(), b"pickup-code-nonce:" + nonce.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:16], 'big') % 10**DIGITS:0{DIGITS}d}"


def code_hash(code: str) -> str:
    return hmac.new(_secret(), b"pickup-code:" + code.encode(), hashlib.sha256).hexdigest()


def display(code: str) -> str:
    """``123456789012`` -> ``1234 5678 9012`` (easier to read aloud at the counter)."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def issue(pickup: PickupOrder) -> str:
    """Give ``pickup`` its code (once; a second call returns the same code)."""
    if pickup.code_nonce:
        return code_from_nonce(pickup.code_nonce)
    for _attempt in range(8):
        nonce = secrets.token_hex(16)
        code = code_from_nonce(nonce)
        digest = code_hash(code)
        try:
            with db.session.begin_nested():
                changed = db.session.execute(
                    update(PickupOrder)
                    .where(PickupOrder.id == pickup.id, PickupOrder.code_nonce.is_(None))
                    .values(code_nonce=nonce, code_hash=digest, open_code_hash=digest)
                    .execution_options(synchronize_session=False)
                ).rowcount
        except IntegrityError:
            continue  # an open code of the chain has this hash: draw again
        db.session.refresh(pickup)
        return code if changed else code_from_nonce(pickup.code_nonce)
    raise RuntimeError("could not draw a unique pickup code")


def code_of(pickup: PickupOrder) -> str | None:
    return code_from_nonce(pickup.code_nonce) if pickup.code_nonce else None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(_secret(), salt=QR_SALT)


def qr_token(code: str) -> str:
    return _serializer().dumps({"c": code})


def read_input(text: str | None) -> str | None:
    """What a clerk typed or scanned -> a code, or None when it cannot be one."""
    text = (text or "").strip()
    if not text:
        return None
    digits = re.sub(r"[\s-]", "", text)
    if digits.isdigit():
        return digits if len(digits) == DIGITS else None
    try:
        data = _serializer().loads(text[:500])
    except BadSignature:
        return None
    code = data.get("c") if isinstance(data, dict) else None
    return code if isinstance(code, str) and code.isdigit() and len(code) == DIGITS else None


def qr_svg(code: str) -> Markup:
    """The QR code of the signed token, as inline SVG rendered on the server."""
    image = qrcode.make(qr_token(code), image_factory=qrcode.image.svg.SvgPathImage,
                        box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration: it is inlined in HTML
    # Fill the panel (its viewBox keeps it square) rather than 33 mm: easier to scan.
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg width="100%"', svg, count=1)
    return Markup(svg)
