"""Money is integer fen plus a currency code; this module formats and parses it."""

from __future__ import annotations

import functools
import re
from decimal import Decimal

from babel.numbers import format_currency
from flask_babel import get_locale

_AMOUNT = re.compile(r"^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$")


def format_fen(amount_fen: int | None, currency: str = "CNY", locale=None) -> str:
    """``1280`` -> ``¥12.80`` in the request's locale."""
    if amount_fen is None:
        return ""
    locale = locale or get_locale() or "zh_CN"
    return format_currency(Decimal(amount_fen) / 100, currency, locale=str(locale))


@functools.lru_cache(maxsize=8192)
def _formatted(amount_fen: int, currency: str, locale) -> str:
    return format_fen(amount_fen, currency, locale)


def fen_filter(amount_fen: int | None, currency: str = "CNY") -> str:
    """The ``fen`` template filter: :func:`format_fen`, remembered per (amount, currency,
    locale). Babel's formatting is pure but slow next to the rest of a page (a listing
    shows two dozen prices or more), and shops repeat the same few prices."""
    if amount_fen is None:
        return ""
    return _formatted(int(amount_fen), currency, get_locale() or "zh_CN")


def yuan_text(amount_fen: int | None) -> str:
    """``1280`` -> ``"12.80"`` for form fields and CSV (``parse_yuan`` reads it back)."""
    if amount_fen is None:
        return ""
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def parse_yuan(text: str) -> int:
    """``"12.8"`` -> ``1280``; raises ValueError on anything else (no floats, ever)."""
    match = _AMOUNT.match(str(text))
    if not match:
        raise ValueError(f"not an amount in yuan: {text!r}")
    whole, cents = match.groups()
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))
