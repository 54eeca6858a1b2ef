"""HQ's master catalogue: products with variants, categories, images, publishing."""

from __future__ import annotations

import io

import pytest
from catalogue_helpers import make_product, set_listing, variant_id
from PIL import Image

from shopbuilder.extensions import db
from shopbuilder.models import Category, Product, ProductImage, Publication, Variant
from shopbuilder.testing import in_app, login, make_store


def product_form(title="碧螺春 Biluochun", rows=(("BLC-50", "size=50g", "88"),), **extra):
    data = {"title": title, "description": "Spring green tea", "status": "active",
            "category_id": "", "variant_id": [], "sku": [], "options": [], "barcode": [],
            "price": [], "compare_at": []}
    for sku, options, price in rows:
        data["variant_id"].append("")
        data["sku"].append(sku)
        data["options"].append(options)
        data["barcode"].append("")
        data["price"].append(price)
        data["compare_at"].append("")
    data.update(extra)
    return data


@pytest.fixture
def hq(client, chain, hq_user):
    client.set_cookie("lang", "en")
    login(client, hq_user, chain=chain)
    return client


def test_hq_creates_product_with_variants_priced_in_yuan(app, hq, chain):
    response = hq.post(f"/hq/{chain.slug}/products/new", data=product_form(
        rows=[("BLC-50", "size=50g", "88"), ("BLC-100", "size=100g; grade=特级", "168.5")]))
    assert response.status_code == 302
    with in_app(app) as session:
        variants = session.scalars(db.select(Variant).order_by(Variant.position)).all()
        assert [(v.sku, v.price_fen, v.options) for v in variants] == [
            ("BLC-50", 8800, {"size": "50g"}),
            ("BLC-100", 16850, {"size": "100g", "grade": "特级"}),
        ]
    page = hq.get(f"/hq/{chain.slug}/products?q=blc").get_data(as_text=True)
    assert "碧螺春 Biluochun" in page


def test_bad_product_input_shows_every_problem_and_saves_nothing(app, hq, chain):
    response = hq.post(f"/hq/{chain.slug}/products/new", data=product_form(
        title="", rows=[("BAD SKU!", "", "12"), ("OK-1", "", "twelve")]))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "needs a title" in page
    assert "SKU must be letters" in page
    assert "amount in yuan" in page
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Product)) == 0


def test_sku_is_unique_per_chain_even_against_a_stores_own_product(app, hq, chain, store):
    make_product(app, chain, "Local cake", skus=[("CAKE-1", "10")], store=store)
    response = hq.post(f"/hq/{chain.slug}/products/new",
                       data=product_form(rows=[("cake-1", "", "12")]))
    assert response.status_code == 400
    assert "already used" in response.get_data(as_text=True)


def test_same_sku_in_another_chain_is_fine(app, hq, chain, other_chain):
    make_product(app, other_chain, "Rival tea", skus=[("BLC-50", "10")])
    response = hq.post(f"/hq/{chain.slug}/products/new", data=product_form())
    assert response.status_code == 302


def test_editing_keeps_variant_ids_and_removes_dropped_variants(app, hq, chain):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "1"), ("A-2", "2")])
    a1 = variant_id(app, "A-1")
    data = product_form("Tea renamed", rows=[("A-1", "", "1.5")])
    data["variant_id"] = [str(a1)]
    assert hq.post(f"/hq/{chain.slug}/products/{pid}", data=data).status_code == 302
    with in_app(app) as session:
        rows = session.execute(db.select(Variant.id, Variant.sku, Variant.price_fen)).all()
    assert rows == [(a1, "A-1", 150)]


def test_hq_cannot_open_another_chains_product(app, hq, chain, other_chain):
    pid = make_product(app, other_chain, "Rival tea", skus=[("R-1", "10")])
    assert hq.get(f"/hq/{chain.slug}/products/{pid}").status_code == 404


def test_hq_console_cannot_open_a_stores_own_product(app, hq, chain, store):
    pid = make_product(app, chain, "Local", skus=[("L-1", "10")], store=store)
    assert hq.get(f"/hq/{chain.slug}/products/{pid}").status_code == 404


def test_category_tree_add_move_and_refuse_cycles(app, hq, chain):
    url = f"/hq/{chain.slug}/categories"
    hq.post(url, data={"name": "茶叶", "slug": "tea", "parent_id": ""})
    with in_app(app) as session:
        tea = session.scalar(db.select(Category.id).where(Category.slug == "tea"))
    hq.post(url, data={"name": "绿茶", "slug": "green", "parent_id": str(tea)})
    with in_app(app) as session:
        green = session.scalar(db.select(Category.id).where(Category.slug == "green"))
    page = hq.post(url, data={"category_id": str(tea), "name": "茶叶", "slug": "tea",
                              "parent_id": str(green)}, follow_redirects=True)
    assert "cannot be moved under itself" in page.get_data(as_text=True)
    page = hq.post(url, data={"category_id": str(tea), "action": "delete"},
                   follow_redirects=True)
    assert "sub-categories first" in page.get_data(as_text=True)
    page = hq.get(url).get_data(as_text=True)
    assert "绿茶" in page and "茶叶" in page


def png_bytes(size=(800, 600), colour=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_images_are_reencoded_thumbnailed_ordered_and_cached_long(app, hq, chain):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "1")])
    url = f"/hq/{chain.slug}/products/{pid}/images"
    for colour in ((255, 0, 0), (0, 0, 255)):
        response = hq.post(url, data={"image": (io.BytesIO(png_bytes(colour=colour)), "x.png")},
                           content_type="multipart/form-data")
        assert response.status_code == 302
    with in_app(app) as session:
        images = session.scalars(db.select(ProductImage).order_by(ProductImage.position)).all()
        first, second = images[0].id, images[1].id
        assert images[0].path.endswith(".jpg") and images[0].thumb_path != images[0].path
        thumb = images[0].thumb_path
    served = hq.get(f"/media/{thumb}")
    assert served.status_code == 200
    assert "immutable" in served.headers["Cache-Control"]
    assert max(Image.open(io.BytesIO(served.data)).size) <= 400
    hq.post(f"/hq/{chain.slug}/products/{pid}/images/{second}/up")
    with in_app(app) as session:
        order = session.scalars(db.select(ProductImage.id).order_by(ProductImage.position)).all()
        product = session.get(Product, pid)
        assert order == [second, first]
        assert product.image == product.images[0].path


def test_upload_that_is_not_an_image_or_too_big_is_refused(app, hq, chain):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "1")])
    url = f"/hq/{chain.slug}/products/{pid}/images"
    page = hq.post(url, data={"image": (io.BytesIO(b"<?php evil(); ?>"), "x.png")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "not an image" in page.get_data(as_text=True)
    big = b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 10)
    page = hq.post(url, data={"image": (io.BytesIO(big), "big.png")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "larger than 5 MB" in page.get_data(as_text=True)
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(ProductImage)) == 0


def publish(hq, chain, pid, confirm=True, **fields):
    data = {"target": "all", "price": "", **fields}
    if confirm:
        data["confirm"] = "1"
    return hq.post(f"/hq/{chain.slug}/products/{pid}/publish", data=data)


def test_publish_to_a_city_previews_reach_then_publishes(app, hq, chain):
    for slug, city in (("hz-1", "杭州"), ("hz-2", "杭州"), ("sz-1", "苏州")):
        make_store(app, chain, slug, city=city)
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    preview = publish(hq, chain, pid, confirm=False, target="city", city="杭州", price="9.9")
    assert "This reaches 2 stores." in preview.get_data(as_text=True)
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 0
    done = publish(hq, chain, pid, target="city", city="杭州", price="9.9")
    assert done.status_code == 302
    with in_app(app) as session:
        pub = session.scalar(db.select(Publication))
        assert (pub.target, pub.city, pub.price_fen) == ("city", "杭州", 990)


def test_publish_to_chosen_stores_and_republish_keeps_store_overrides(app, hq, chain, store,
                                                                       other_store):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    ids = [str(store.id), str(other_store.id)]
    publish(hq, chain, pid, target="store", store_ids=ids, price="8")
    set_listing(app, store, "A-1", price_fen=700)
    publish(hq, chain, pid, target="store", store_ids=ids, price="9")
    with in_app(app) as session:
        prices = session.scalars(db.select(Publication.price_fen)).all()
    assert prices == [900, 900]
    from catalogue_helpers import listing

    assert listing(app, store, "A-1")[2] == 700


def test_publish_to_another_chains_store_reaches_nothing(app, hq, chain, other_chain_store):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    response = publish(hq, chain, pid, target="store", store_ids=[str(other_chain_store.id)])
    assert response.status_code == 400
    assert "reaches no store" in response.get_data(as_text=True)


def test_unpublish_asks_first_then_hides_everywhere(app, hq, chain, store):
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")], publish="all")
    url = f"/hq/{chain.slug}/products/{pid}/unpublish"
    ask = hq.post(url, data={})
    assert "everywhere?" in ask.get_data(as_text=True)
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 1
    hq.post(url, data={"confirm": "1"})
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 0
    page = app.test_client().get(f"/s/{store.slug}/search?q=tea&lang=en").get_data(as_text=True)
    assert "0 products" in page


def test_store_manager_cannot_reach_hq_catalogue(app, client, chain, store, manager):
    login(client, manager, store=store)
    assert client.get(f"/hq/{chain.slug}/products").status_code in (302, 404)


def test_console_speaks_chinese_by_default(app, client, chain, hq_user):
    login(client, hq_user, chain=chain)
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    page = client.get(f"/hq/{chain.slug}/products/{pid}").get_data(as_text=True)
    assert "下发到门店" in page and "规格" in page
    page = client.get(f"/hq/{chain.slug}/products").get_data(as_text=True)
    assert "总部商品库" in page


def test_publish_page_finds_stores_by_name_or_city(app, hq, chain):
    make_store(app, chain, "hz-lake", name="西湖店", city="杭州")
    make_store(app, chain, "sz-garden", name="园林店", city="苏州")
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    page = hq.get(f"/hq/{chain.slug}/products/{pid}/publish?store_q=苏州").get_data(as_text=True)
    assert "园林店" in page and "西湖店" not in page


def many_stores(app, chain, count, city="杭州"):
    from shopbuilder.models import Store

    with in_app(app) as session:
        rows = [Store(chain_id=chain.id, slug=f"s-{i:04d}", name=f"Store {i:04d}", city=city)
                for i in range(count)]
        session.add_all(rows)
        session.commit()
        return [(row.id, row.slug) for row in rows]


def test_every_publication_of_a_product_can_be_listed_and_removed(app, hq, chain):
    stores = many_stores(app, chain, 60)
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    publish(hq, chain, pid, target="store", store_ids=[str(sid) for sid, _ in stores])
    url = f"/hq/{chain.slug}/products/{pid}"
    first = hq.get(url).get_data(as_text=True)
    assert "Showing 1–50 of 60" in first and "Store 0049" in first and "Store 0050" not in first
    second = hq.get(url + "?pub_page=2").get_data(as_text=True)
    assert "Showing 51–60 of 60" in second and "Store 0059" in second
    found = hq.get(url + "?pub_q=s-0059").get_data(as_text=True)
    assert "Store 0059" in found and "Store 0001" not in found
    with in_app(app) as session:
        last = session.scalar(db.select(Publication.id).where(
            Publication.store_id == stores[-1][0]))
    hq.post(f"/hq/{chain.slug}/products/{pid}/unpublish",
            data={"publication_id": str(last), "confirm": "1"})
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 59


def test_publish_page_lists_stores_a_page_at_a_time_and_keeps_the_ticked_ones(app, hq, chain):
    stores = many_stores(app, chain, 120)
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    url = f"/hq/{chain.slug}/products/{pid}/publish"
    first = hq.get(url).get_data(as_text=True)
    assert "Showing 1–100 of 120" in first and "Store 0099" in first
    assert "Store 0100" not in first
    # Tick a store on page 1, turn to page 2: it stays chosen.
    second = hq.post(url, data={"target": "store", "store_ids": [str(stores[0][0])],
                                "goto_page": "2", "price": ""}).get_data(as_text=True)
    assert "Showing 101–120 of 120" in second and "Store 0119" in second
    assert f'type="hidden" name="store_ids" value="{stores[0][0]}"' in second
    assert "1 stores chosen so far." in second
    preview = publish(hq, chain, pid, confirm=False, target="store",
                      store_ids=[str(stores[0][0]), str(stores[119][0])])
    assert "This reaches 2 stores." in preview.get_data(as_text=True)


def test_publish_to_every_store_matching_a_search_or_to_pasted_slugs(app, hq, chain):
    many_stores(app, chain, 5, city="杭州")
    make_store(app, chain, "sz-1", city="苏州")
    make_store(app, chain, "sz-2", city="苏州")
    pid = make_product(app, chain, "Tea", skus=[("A-1", "10")])
    matching = publish(hq, chain, pid, confirm=False, target="store", store_q="苏州",
                       all_matching="1")
    assert "This reaches 2 stores." in matching.get_data(as_text=True)
    pasted = publish(hq, chain, pid, confirm=False, target="store",
                     store_slugs="s-0001\nS-0002, sz-1")
    assert "This reaches 3 stores." in pasted.get_data(as_text=True)
    wrong = publish(hq, chain, pid, confirm=False, target="store", store_slugs="s-0001 nope")
    assert wrong.status_code == 400
    assert "No store of this chain has the slug: nope" in wrong.get_data(as_text=True)
    with in_app(app) as session:
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 0


def test_product_list_pages_past_the_first_page(app, hq, chain):
    """The console pagination once answered 500 as soon as there was a next page."""
    with in_app(app) as session:
        for i in range(30):
            product = Product(chain_id=chain.id, title=f"Tea {i:02d}")
            session.add(product)
            session.flush()
            session.add(Variant(chain_id=chain.id, product_id=product.id, sku=f"T-{i}",
                                   price_fen=100))
        session.commit()
    first = hq.get(f"/hq/{chain.slug}/products")
    assert first.status_code == 200 and 'rel="next"' in first.get_data(as_text=True)
    second = hq.get(f"/hq/{chain.slug}/products?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "Tea 00" in second


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_database_refuses_a_sku_that_differs_only_in_case(app, chain, other_chain):
    """Two saves at the same moment both pass the service's check; the index stops one."""
    from sqlalchemy.exc import IntegrityError

    make_product(app, chain, "Tea", skus=[("LJ-50", "10")])
    make_product(app, other_chain, "Rival tea", skus=[("lj-50", "10")])  # another chain: fine
    with in_app(app) as session:
        pid = session.scalar(db.select(Product.id).where(Product.chain_id == chain.id))
        session.add(Variant(chain_id=chain.id, product_id=pid, sku="lj-50", price_fen=10))
        with pytest.raises(IntegrityError):
            session.commit()
