"""Build the catalogue benchmark dataset: one chain, 2,000 stores, 5,000 products x 3 variants.

Reusable by any benchmark::

    from catalogue_dataset import build_dataset
    info = build_dataset(app, products=5000, variants=3, stores=2000)

or from the shell (creates the tables in an empty database first)::

    .venv/bin/python bench/catalogue_dataset.py --database-url sqlite:////tmp/bench.db

Rows go in with Core bulk inserts, so building takes seconds, not minutes. Every
product is published to all stores through ONE publication row (the sparse
model: no listing rows until a store changes something). Store ``bench-0000``
gets a manager (``manager@bench.example``, password ``bench-pass-1``) and an HQ
user ``hq@bench.example``. Search tokens are filled like the ORM would.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import insert, select  # noqa: E402

from shopbuilder import tenancy  # noqa: E402
from shopbuilder.extensions import db  # noqa: E402
from shopbuilder.models import (  # noqa: E402
    Category,
    Chain,
    Product,
    Publication,
    StaffRole,
    Store,
    User,
    Variant,
)
from shopbuilder.textsearch import index_text  # noqa: E402

CITIES = ["杭州", "苏州", "上海", "南京", "宁波", "无锡", "北京", "广州", "深圳", "成都",
          "重庆", "武汉", "西安", "长沙", "厦门", "福州", "青岛", "天津", "合肥", "昆明"]
WORDS_ZH = ["龙井", "碧螺春", "铁观音", "大红袍", "白茶", "普洱", "乌龙", "红茶", "绿茶", "花茶",
            "茶具", "盖碗", "礼盒", "明前", "特级", "清香", "浓香", "陈年", "高山", "手工"]
WORDS_EN = ["green", "black", "oolong", "white", "pu-erh", "jasmine", "gift", "box", "cup",
            "premium", "spring", "mountain", "classic", "rare", "fresh", "aged"]
PASSWORD = "bench-pass-1"
_CHUNK = 1000


def _chunks(rows, size=_CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def build_dataset(app, products: int = 5000, variants: int = 3, stores: int = 2000,
                  chain_slug: str = "bench", seed: int = 7) -> dict:
    """Fill the (empty) database of ``app``; returns ids and counts for the caller."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with app.app_context(), tenancy.unscoped():
        chain = Chain(slug=chain_slug, name="Bench Tea 基准茶")
        db.session.add(chain)
        db.session.flush()
        chain_id = chain.id
        store_rows = [
            {"chain_id": chain_id, "slug": f"{chain_slug}-{i:04d}", "name": f"基准茶 {i:04d} 店",
             "city": CITIES[i % len(CITIES)], "status": "active", "address": "",
             "phone": "", "description": "", "opening_hours": {}, "settings": {},
             "created_at": _now()}
            for i in range(stores)
        ]
        for chunk in _chunks(store_rows):
            db.session.execute(insert(Store), chunk)
        categories = []
        for i, word in enumerate(WORDS_ZH[:10]):
            category = Category(chain_id=chain_id, slug=f"c{i}", name=word, position=i)
            db.session.add(category)
            categories.append(category)
        db.session.flush()
        category_ids = [c.id for c in categories]

        product_rows, variant_specs = [], []
        for i in range(products):
            title = (f"{rng.choice(WORDS_ZH)}{rng.choice(WORDS_ZH)} "
                     f"{rng.choice(WORDS_EN).title()} {rng.choice(WORDS_EN)} No.{i}")
            description = (f"{rng.choice(WORDS_ZH)}，{rng.choice(WORDS_ZH)}。"
                           f"{rng.choice(WORDS_EN)} tea")
            skus = [f"P{i:05d}-{v}" for v in range(variants)]
            product_rows.append({
                "chain_id": chain_id, "category_id": rng.choice(category_ids), "title": title,
                "description": description, "status": "active",
                "search_text": index_text(title, description, skus), "created_at": _now(),
            })
            variant_specs.append([(sku, 1000 + rng.randint(0, 40000)) for sku in skus])
        for chunk in _chunks(product_rows):
            db.session.execute(insert(Product), chunk)
        product_ids = list(db.session.scalars(
            select(Product.id).where(Product.chain_id == chain_id).order_by(Product.id)
        ))
        variant_rows = [
            {"chain_id": chain_id, "product_id": pid, "sku": sku, "price_fen": price,
             "options": {"规格": f"{50 * (v + 1)}g"}, "position": v}
            for pid, specs in zip(product_ids, variant_specs, strict=True)
            for v, (sku, price) in enumerate(specs)
        ]
        for chunk in _chunks(variant_rows):
            db.session.execute(insert(Variant), chunk)
        publication_rows = [
            {"chain_id": chain_id, "product_id": pid, "target": "all", "created_at": _now()}
            for pid in product_ids
        ]
        for chunk in _chunks(publication_rows):
            db.session.execute(insert(Publication), chunk)
        first_store = db.session.scalar(select(Store).where(Store.slug == f"{chain_slug}-0000"))
        for email, role, store_id in (("hq@bench.example", "hq", None),
                                      ("manager@bench.example", "manager", first_store.id)):
            user = User(email=email, name=role)
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.flush()
            db.session.add(StaffRole(user_id=user.id, chain_id=chain_id, role=role,
                                     store_id=store_id))
        db.session.commit()
        info = {
            "chain_id": chain_id, "chain_slug": chain_slug, "stores": stores,
            "products": products, "variants": products * variants,
            "first_store_id": first_store.id, "first_store_slug": first_store.slug,
            "product_ids": product_ids, "build_seconds": round(time.perf_counter() - started, 2),
        }
    return info


def _now():
    from shopbuilder import clock

    return clock.now()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--stores", type=int, default=2000)
    parser.add_argument("--reset", action="store_true",
                        help="drop and create every table first (destroys data)")
    args = parser.parse_args()
    from shopbuilder import create_app
    from shopbuilder.testing import make_test_config, reset_database

    instance = os.path.join(ROOT, "instance", "bench")
    os.makedirs(instance, exist_ok=True)
    app = create_app(make_test_config(args.database_url, instance))
    if args.reset:
        reset_database(app)
    else:
        with app.app_context():
            db.create_all()
    info = build_dataset(app, args.products, args.variants, args.stores)
    info.pop("product_ids")
    print(info)


if __name__ == "__main__":
    main()
