"""The demo chain 茗茶 Mingcha Tea, so a fresh install has shops worth looking at.

Every account's password is ``demo12345``: demo only, printed by ``init --demo``.
"""

from __future__ import annotations

from .extensions import db
from .models import (
    Category,
    Chain,
    Customer,
    Product,
    Publication,
    StaffRole,
    Store,
    StoreListing,
    User,
    Variant,
)

DEMO_PASSWORD = "demo12345"

HOURS = {day: [["09:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

STORES = [
    {
        "slug": "west-lake", "name": "茗茶 西湖店", "city": "杭州",
        "address": "杭州市西湖区北山街 12 号", "phone": "0571-8700 1001",
        "lat": 30.2592, "lng": 120.1487, "theme": "classic",
    },
    {
        "slug": "riverside", "name": "茗茶 滨江店", "city": "杭州",
        "address": "杭州市滨江区江南大道 88 号", "phone": "0571-8700 1002",
        "lat": 30.2084, "lng": 120.2110, "theme": "teahouse",
    },
    {
        "slug": "old-town", "name": "茗茶 老城店", "city": "苏州",
        "address": "苏州市姑苏区平江路 5 号", "phone": "0512-6500 1003",
        "lat": 31.3146, "lng": 120.6300, "theme": "classic",
    },
]

CATEGORIES = [("green-tea", "绿茶"), ("oolong", "乌龙茶"), ("teaware", "茶具")]

# (category, title, description, [(sku, options, price_fen)])
PRODUCTS = [
    ("green-tea", "西湖龙井 明前特级", "明前采摘，豆香清幽，回甘绵长。", [
        ("LJ-50", {"规格": "50g"}, 12800), ("LJ-100", {"规格": "100g"}, 23800)]),
    ("green-tea", "碧螺春", "条索纤细，卷曲成螺，花果香浓。", [
        ("BLC-50", {"规格": "50g"}, 8800), ("BLC-100", {"规格": "100g"}, 16800)]),
    ("green-tea", "安吉白茶", "氨基酸含量高，鲜爽甘醇。", [("AJ-50", {"规格": "50g"}, 9800)]),
    ("oolong", "铁观音 清香型", "兰花香馥郁，七泡有余香。", [
        ("TGY-100", {"规格": "100g"}, 6800), ("TGY-250", {"规格": "250g"}, 15800)]),
    ("oolong", "大红袍", "岩骨花香，焙火醇厚。", [("DHP-100", {"规格": "100g"}, 19800)]),
    ("oolong", "冻顶乌龙", "台湾高山乌龙，焦糖香。", [("DD-100", {"规格": "100g"}, 12800)]),
    ("teaware", "青瓷盖碗", "龙泉青瓷，120ml。", [("GW-120", {"容量": "120ml"}, 12800)]),
    ("teaware", "便携旅行茶具", "一壶二杯，含收纳包。", [("TR-SET", {}, 15800)]),
]

ACCOUNTS = [
    ("admin@example.com", "platform admin", None),
    ("hq@mingcha.example", "HQ staff", ("hq", None)),
    ("manager@west-lake.example", "store manager (west-lake)", ("manager", "west-lake")),
    ("clerk@west-lake.example", "store clerk (west-lake)", ("clerk", "west-lake")),
]


def load_demo(echo=print, orders: bool = True, social: bool = True) -> Chain:
    """Create the demo chain, stores, catalogue and accounts (caller chooses the scope).

    ``orders=False`` leaves out the demo orders, for tests that count stock and orders;
    ``social=False`` the group-buy campaign, its leader and the distributor, for tests
    that set up their own.
    """
    chain = Chain(
        slug="mingcha", name="茗茶 Mingcha Tea", locale="zh_CN", royalty_bp=500,
        settings={"theme": {"values": {"name": "classic"}, "locked": []}},
    )
    db.session.add(chain)
    db.session.flush()
    stores = {}
    for spec in STORES:
        spec = dict(spec)
        theme = spec.pop("theme")
        store = Store(
            chain_id=chain.id, opening_hours=HOURS,
            description=f"{spec['name']}：现泡好茶，门店自提。",
            settings={"theme": {"name": theme}}, **spec,
        )
        db.session.add(store)
        stores[store.slug] = store
    db.session.flush()

    categories = {}
    for position, (slug, name) in enumerate(CATEGORIES):
        category = Category(chain_id=chain.id, slug=slug, name=name, position=position)
        db.session.add(category)
        categories[slug] = category
    db.session.flush()

    for category_slug, title, description, variants in PRODUCTS:
        product = Product(
            chain_id=chain.id, category_id=categories[category_slug].id,
            title=title, description=description, status="active",
        )
        db.session.add(product)
        db.session.flush()
        db.session.add(Publication(chain_id=chain.id, product_id=product.id, target="all"))
        for position, (sku, options, price) in enumerate(variants):
            variant = Variant(
                chain_id=chain.id, product_id=product.id, sku=sku, options=options,
                price_fen=price, position=position,
            )
            db.session.add(variant)
            db.session.flush()
            for stock, store in zip((50, 20, 8), stores.values(), strict=True):
                db.session.add(StoreListing(
                    chain_id=chain.id, store_id=store.id, variant_id=variant.id,
                    stock_on_hand=stock,
                ))

    for email, label, role in ACCOUNTS:
        user = User(email=email, name=label, is_platform_admin=role is None)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        db.session.flush()
        if role:
            kind, store_slug = role
            db.session.add(StaffRole(
                user_id=user.id, chain_id=chain.id, role=kind,
                store_id=stores[store_slug].id if store_slug else None,
            ))
    customer = Customer(
        chain_id=chain.id, email="customer@example.com", name="王小明",
        phone="13800000000", home_store_id=stores["west-lake"].id,
    )
    customer.set_password(DEMO_PASSWORD)
    db.session.add(customer)

    from .themes.demo import decorate_demo_stores

    decorate_demo_stores(stores)
    db.session.commit()

    from .demo_orders import enable_pickup_by_default, load_demo_orders, load_second_store_orders

    pickup = enable_pickup_by_default(chain)
    clerk = db.session.scalar(db.select(User).where(User.email == "clerk@west-lake.example"))
    hq = db.session.scalar(db.select(User).where(User.email == "hq@mingcha.example"))
    made = load_demo_orders(stores["west-lake"], customer, clerk) if orders else {}
    elsewhere = load_second_store_orders(stores["riverside"], customer, hq) if orders else {}
    db.session.commit()

    from .demo_social import LEADER, load_social_demo

    social = load_social_demo(chain, stores, customer, DEMO_PASSWORD,
                              open_group=orders) if social else []

    echo("Demo chain 'mingcha' created with stores: " + ", ".join(stores))
    echo(f"Demo accounts (password '{DEMO_PASSWORD}', demo only):")
    for email, label, _role in ACCOUNTS:
        echo(f"  {email:32} {label}")
    echo(f"  {'customer@example.com':32} customer")
    if social:
        echo(f"  {LEADER[0]:32} customer (a group leader)")
    if made:
        echo("Demo orders at west-lake: "
             + ", ".join(f"{n} ({state})" for state, n in made.items()))
    if elsewhere:
        echo("Demo orders at riverside: "
             + ", ".join(f"{n} ({state})" for state, n in elsewhere.items()))
    if pickup:
        echo("Pickup (到店自提) is on for every demo store by HQ policy.")
    for line in social:
        echo(line)
    return chain
