"""The store's listing console: inline edits, CSV round trips, its own products."""

from __future__ import annotations

import io

import pytest
from catalogue_helpers import listing, make_product, set_listing, variant_id

from shopbuilder.extensions import db
from shopbuilder.models import Product, Publication, StoreListing, Variant
from shopbuilder.testing import in_app, login


@pytest.fixture
def as_manager(client, store, manager):
    client.set_cookie("lang", "en")
    login(client, manager, store=store)
    return client


@pytest.fixture
def tea(app, chain):
    return make_product(app, chain, "西湖龙井 Dragon Well", skus=[("LJ-50", "128"),
                                                               ("LJ-100", "238")],
                        publish="all")


def count_listings(app):
    with in_app(app) as session:
        return session.scalar(db.select(db.func.count()).select_from(StoreListing))


def test_published_product_is_listed_without_any_listing_rows(app, as_manager, store, tea):
    page = as_manager.get(f"/s/{store.slug}/manage/listings").get_data(as_text=True)
    assert "LJ-50" in page and "LJ-100" in page
    assert count_listings(app) == 0


def test_inline_edit_creates_the_listing_on_first_change(app, as_manager, store, tea):
    vid = variant_id(app, "LJ-50")
    response = as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                               data={"price": "99.5", "stock": "12", "listed": "1"})
    assert response.status_code == 302
    assert listing(app, store, "LJ-50") == (12, 0, 9950, True)
    assert count_listings(app) == 1


def test_blank_price_goes_back_to_the_chain_price(app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", price_fen=100)
    vid = variant_id(app, "LJ-50")
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}", data={"price": "", "stock": "1"})
    assert listing(app, store, "LJ-50")[2] is None


def test_stock_below_reserved_is_refused_with_a_clear_message(app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", stock_on_hand=10, reserved=4)
    vid = variant_id(app, "LJ-50")
    page = as_manager.post(f"/s/{store.slug}/manage/listings/{vid}", data={"stock": "3"},
                           follow_redirects=True).get_data(as_text=True)
    assert "reserved more than 3" in page
    assert listing(app, store, "LJ-50")[0] == 10


def test_low_stock_is_highlighted_and_filterable(app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", stock_on_hand=100)
    set_listing(app, store, "LJ-100", stock_on_hand=2)
    page = as_manager.get(f"/s/{store.slug}/manage/listings?low=1").get_data(as_text=True)
    assert "LJ-100" in page and "LJ-50" not in page
    assert "low-stock" in page


def test_clerk_sees_stock_but_cannot_change_prices(app, client, store, clerk, tea):
    set_listing(app, store, "LJ-50", stock_on_hand=7)
    login(client, clerk, store=store)
    page = client.get(f"/s/{store.slug}/manage/listings").get_data(as_text=True)
    assert "LJ-50" in page and ">7<" in page
    assert 'name="price"' not in page
    vid = variant_id(app, "LJ-50")
    response = client.post(f"/s/{store.slug}/manage/listings/{vid}", data={"price": "1"})
    assert response.status_code == 404
    assert client.get(f"/s/{store.slug}/manage/listings/export.csv").status_code == 404


def test_editing_a_variant_not_sold_here_is_404(app, as_manager, chain, store, other_store):
    make_product(app, chain, "Other store only", skus=[("OS-1", "5")], store=other_store)
    vid = variant_id(app, "OS-1")
    assert as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                           data={"stock": "5"}).status_code == 404


def test_csv_export_lists_effective_prices_and_stock(app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", stock_on_hand=5, price_fen=9900)
    response = as_manager.get(f"/s/{store.slug}/manage/listings/export.csv")
    text = response.data.decode("utf-8-sig")
    assert text.splitlines() == ["sku,price,stock,listed,compare_at", "LJ-100,238.00,0,1,",
                                 "LJ-50,99.00,5,1,"]


def upload(client, store, text, dry_run):
    data = {"file": (io.BytesIO(text.encode()), "stock.csv")}
    if dry_run:
        data["dry_run"] = "1"
    return client.post(f"/s/{store.slug}/manage/listings/import", data=data,
                       content_type="multipart/form-data")


def test_csv_dry_run_reports_without_changing(app, as_manager, store, tea):
    response = upload(as_manager, store, "sku,price,stock,listed\nLJ-50,88,5,1\n", True)
    assert response.status_code == 200
    assert "would be saved" in response.get_data(as_text=True)
    assert count_listings(app) == 0


def test_csv_import_applies_all_rows(app, as_manager, store, tea):
    response = upload(as_manager, store,
                      "sku,price,stock,listed\nLJ-50,88,5,1\nlj-100,inherit,7,0\n", False)
    assert response.status_code == 200
    assert listing(app, store, "LJ-50") == (5, 0, 8800, True)
    assert listing(app, store, "LJ-100") == (7, 0, None, False)


def test_csv_with_one_bad_row_changes_nothing_and_names_each_line(app, as_manager, store, tea):
    set_listing(app, store, "LJ-100", stock_on_hand=9, reserved=3)
    text = ("sku,price,stock,listed\nLJ-50,88,5,1\nLJ-100,,2,1\nNOPE,1,1,1\nLJ-50,1,1,1\n"
            "\n,1,1,1\nLJ-50x,abc,-1,maybe\n")
    response = upload(as_manager, store, text, False)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>3</td><td>Stock 2 is below the 3 reserved" in page
    assert "<td>4</td><td>SKU NOPE is not sold in this store." in page
    assert "<td>5</td><td>SKU LJ-50 is also on line 2." in page
    assert "<td>7</td><td>The SKU is missing." in page
    assert "<td>8</td><td>The price abc is not an amount in yuan." in page
    assert listing(app, store, "LJ-50") is None
    assert listing(app, store, "LJ-100")[0] == 9


def test_csv_with_a_wrong_header_is_refused(app, as_manager, store, tea):
    response = upload(as_manager, store, "code,amount\nLJ-50,5\n", False)
    assert "The first line must be" in response.get_data(as_text=True)


def test_store_creates_its_own_product_seen_only_in_that_store(app, as_manager, chain, store,
                                                                other_store):
    data = {"title": "Egg tart 蛋挞", "description": "", "status": "active", "category_id": "",
            "variant_id": [""], "sku": ["TART-1"], "options": [""], "barcode": [""],
            "price": ["6"], "compare_at": [""]}
    response = as_manager.post(f"/s/{store.slug}/manage/products/new", data=data)
    assert response.status_code == 302
    with in_app(app) as session:
        product = session.scalar(db.select(Product).where(Product.title == "Egg tart 蛋挞"))
        assert product.store_id == store.id
        pid = product.id
        assert session.scalar(db.select(db.func.count()).select_from(Publication)) == 0
    assert "TART-1" in as_manager.get(f"/s/{store.slug}/manage/listings").get_data(as_text=True)
    assert "蛋挞" in as_manager.get(f"/s/{store.slug}/search?q=蛋挞").get_data(as_text=True)
    other = app.test_client().get(f"/s/{other_store.slug}/search?q=蛋挞&lang=en")
    assert "0 products" in other.get_data(as_text=True)
    assert as_manager.get(f"/s/{store.slug}/manage/products/{pid}").status_code == 200


def test_another_stores_local_product_is_404(app, as_manager, chain, store, other_store):
    pid = make_product(app, chain, "South cake", skus=[("SC-1", "5")], store=other_store)
    assert as_manager.get(f"/s/{store.slug}/manage/products/{pid}").status_code == 404
    hq_pid = make_product(app, chain, "Master", skus=[("M-1", "5")])
    assert as_manager.get(f"/s/{store.slug}/manage/products/{hq_pid}").status_code == 404


def test_manager_of_one_store_cannot_manage_another(app, as_manager, other_store):
    response = as_manager.get(f"/s/{other_store.slug}/manage/listings")
    assert response.status_code == 404


def test_manager_sets_a_low_stock_threshold_per_listing(app, as_manager, store, tea):
    vid = variant_id(app, "LJ-50")
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                    data={"stock": "8", "low_stock": "10"})
    page = as_manager.get(f"/s/{store.slug}/manage/listings?low=1").get_data(as_text=True)
    assert "LJ-50" in page
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}", data={"low_stock": "x"})
    with in_app(app) as session:
        assert session.scalar(db.select(StoreListing.low_stock_threshold)) == 10


def compare_at(app, store, sku):
    with in_app(app) as session:
        return session.scalar(
            db.select(StoreListing.compare_at_fen).where(
                StoreListing.store_id == store.id,
                StoreListing.variant_id == db.select(Variant.id).where(Variant.sku == sku)
                .scalar_subquery()))


def test_csv_sets_and_exports_the_stores_compare_at_price(app, as_manager, store, tea):
    response = upload(as_manager, store, "sku,compare_at,price\nLJ-50,150,99\n", False)
    assert response.status_code == 200
    assert compare_at(app, store, "LJ-50") == 15000
    text = as_manager.get(f"/s/{store.slug}/manage/listings/export.csv").data.decode("utf-8-sig")
    assert "LJ-50,99.00,0,1,150.00" in text.splitlines()
    shop = app.test_client().get(f"/s/{store.slug}/?lang=en").get_data(as_text=True)
    assert "¥150.00</s>" in shop  # the card shows the "was" price struck through
    upload(as_manager, store, "sku,compare_at\nLJ-50,inherit\n", False)
    assert compare_at(app, store, "LJ-50") is None


def test_csv_without_compare_at_keeps_the_stores_compare_at(app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", compare_at_fen=15000)
    response = upload(as_manager, store, "sku,price,stock,listed\nLJ-50,99,3,1\n", False)
    assert response.status_code == 200
    assert compare_at(app, store, "LJ-50") == 15000


def test_csv_with_a_bad_compare_at_names_the_line(app, as_manager, store, tea):
    response = upload(as_manager, store, "sku,compare_at\nLJ-50,lots\n", False)
    assert response.status_code == 422
    assert "The compare-at price lots is not an amount in yuan." in \
        response.get_data(as_text=True)


def test_console_row_sets_the_compare_at_price(app, as_manager, store, tea):
    vid = variant_id(app, "LJ-50")
    page = as_manager.get(f"/s/{store.slug}/manage/listings").get_data(as_text=True)
    assert 'name="compare_at"' in page
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                    data={"price": "", "compare_at": "168", "stock": "0", "stock_was": "0"})
    assert compare_at(app, store, "LJ-50") == 16800
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}", data={"compare_at": ""})
    assert compare_at(app, store, "LJ-50") is None


def test_saving_a_price_keeps_a_stock_figure_the_till_synced_meanwhile(app, as_manager, store,
                                                                        tea):
    set_listing(app, store, "LJ-50", stock_on_hand=10)
    vid = variant_id(app, "LJ-50")
    page = as_manager.get(f"/s/{store.slug}/manage/listings").get_data(as_text=True)
    assert 'name="stock_was" value="10"' in page
    set_listing(app, store, "LJ-50", stock_on_hand=8)  # the till sells two meanwhile
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                    data={"price": "99", "stock": "10", "stock_was": "10", "listed": "1"})
    assert listing(app, store, "LJ-50")[:3] == (8, 0, 9900)


def test_changing_stock_the_till_changed_meanwhile_is_refused_with_the_new_figure(
        app, as_manager, store, tea):
    set_listing(app, store, "LJ-50", stock_on_hand=10)
    vid = variant_id(app, "LJ-50")
    set_listing(app, store, "LJ-50", stock_on_hand=8)
    page = as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                           data={"price": "99", "stock": "12", "stock_was": "10"},
                           follow_redirects=True).get_data(as_text=True)
    assert "changed from 10 to 8 while you were editing" in page
    assert listing(app, store, "LJ-50")[:3] == (8, 0, None)  # nothing saved, not even the price
    as_manager.post(f"/s/{store.slug}/manage/listings/{vid}",
                    data={"price": "99", "stock": "12", "stock_was": "8"})
    assert listing(app, store, "LJ-50")[:3] == (12, 0, 9900)
