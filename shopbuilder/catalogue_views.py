"""Helpers shared by the HQ product console and the store's own-products pages."""

from __future__ import annotations

from flask import abort, request

from .extensions import db
from .models import Product
from .services.catalogue import VariantInput


def page_number(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def variants_from_form(form) -> list[VariantInput]:
    """The variant rows of the product form (parallel lists, blank rows ignored)."""
    fields = ("variant_id", "sku", "options", "barcode", "price", "compare_at")
    columns = {name: form.getlist(name) for name in fields}
    count = max((len(v) for v in columns.values()), default=0)
    rows = []
    for i in range(min(count, 100)):
        def cell(name, i=i):
            values = columns[name]
            return values[i].strip() if i < len(values) else ""

        vid = cell("variant_id")
        rows.append(VariantInput(
            id=int(vid) if vid.isdigit() else None, sku=cell("sku"), options=cell("options"),
            barcode=cell("barcode"), price=cell("price"), compare_at=cell("compare_at"),
        ))
    return rows


def category_id_from_form(form) -> int | None:
    raw = form.get("category_id", "")
    return int(raw) if raw.isdigit() else None


def load_product(product_id: int, store_id: int | None) -> Product:
    """A product of the scope's chain: master (``store_id`` None) or the store's own; else 404."""
    product = db.session.get(Product, product_id)
    if product is None or product.store_id != store_id:
        abort(404)
    return product
