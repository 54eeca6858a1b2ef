"""Search tokens for Chinese and English text; see :mod:`shopbuilder.services.search`.

Kept free of models and Flask so the ORM hook in ``models/catalogue.py`` and
bulk loaders can use it.
"""

from __future__ import annotations

import re

CJK_RANGES = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
)
_TOKEN = re.compile(rf"([{CJK_RANGES}]+)|([^\W_{CJK_RANGES}]+)")
_SKU_SQUASH = re.compile(r"[\W_]+")


def _cjk_grams(run: str, unigrams: bool) -> list[str]:
    grams = [run[i:i + 2] for i in range(len(run) - 1)]
    if unigrams or len(run) == 1:
        grams = list(run) + grams
    return grams


def tokens(text_: str, *, query: bool = False) -> list[str]:
    """Search tokens of ``text_`` (see the module docstring)."""
    out: list[str] = []
    for cjk, word in _TOKEN.findall((text_ or "").casefold()):
        if cjk:
            out.extend(_cjk_grams(cjk, unigrams=not query))
        else:
            out.append(word)
    return out


def index_text(title: str, description: str, skus: list[str]) -> str:
    """The ``search_text`` of a product. The title is counted twice: it weighs more."""
    parts = tokens(title) * 2 + tokens(description)
    for sku in skus:
        parts.extend(tokens(sku))
        squashed = _SKU_SQUASH.sub("", sku.casefold())
        if squashed:
            parts.append(squashed)
    return " ".join(parts)
