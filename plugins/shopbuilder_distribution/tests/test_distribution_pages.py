# ruff: noqa: F811 - fixtures come from distkit
"""Through the pages: links bind, share tools, the centre, store and HQ consoles, the API."""

from __future__ import annotations

import io

from distkit import (  # noqa: F401  (fixtures)
    _frozen_clock,
    bind,
    buy,
    chain,
    configure,
    distributor,
    person,
    product_of,
    settle_all,
    shop,
    verify,
)
from flask import template_rendered
from PIL import Image
from shopbuilder_distribution import service
from shopbuilder_distribution.models import Binding, Distributor, ProductCommission, Withdrawal

from shopbuilder import settings
from shopbuilder.extensions import db
from shopbuilder.testing import PASSWORD, in_app, login, make_staff, set_plugin_enabled


def binding_of(app, customer):
    with in_app(app):
        row = db.session.scalar(db.select(Binding).where(Binding.customer_id == customer.id))
        return None if row is None else row.distributor_id


def test_anonymous_visitor_of_a_shared_link_is_bound_when_signing_in(app, chain, store, shop,
                                                                     client):
    d_id, code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    pid = product_of(app, shop["variant_id"])
    page = client.get(f"/s/{store.slug}/p/{pid}?ref={code}")
    assert page.status_code == 200
    assert "sb_ref" in page.headers.get("Set-Cookie", "")
    assert binding_of(app, buyer) is None
    login(client, buyer, store=store)
    client.get(f"/s/{store.slug}/")
    assert binding_of(app, buyer) == d_id


def test_every_anonymous_visitor_of_one_link_is_bound_though_the_page_is_cached(
        app, chain, store, shop):
    d_id, code, _ = distributor(app, chain, store)
    url = f"/s/{store.slug}/p/{product_of(app, shop['variant_id'])}?ref={code}"
    drawn = []
    for visitor_number in range(3):
        buyer = person(app, chain)
        visitor = app.test_client()
        with template_rendered.connected_to(lambda *a, **kw: drawn.append(1), app):
            page = visitor.get(url)
        # The first visitor's page is drawn and cached; the others get it from the cache.
        assert bool(drawn) == (visitor_number == 0)
        drawn.clear()
        assert page.status_code == 200 and "sb_ref" in page.headers.get("Set-Cookie", "")
        login(visitor, buyer, store=store)
        visitor.get(f"/s/{store.slug}/")
        assert binding_of(app, buyer) == d_id


def test_signed_in_customer_opening_a_link_is_bound_at_once(app, chain, store, shop, client):
    d_id, code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    login(client, buyer, store=store)
    client.get(f"/s/{store.slug}/?ref={code}")
    assert binding_of(app, buyer) == d_id


def test_links_in_a_store_without_the_plugin_bind_nobody_and_its_pages_404(
        app, chain, store, other_store, shop, client):
    _d, code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    login(client, buyer, store=other_store)
    client.get(f"/s/{other_store.slug}/?ref={code}")
    assert binding_of(app, buyer) is None
    assert client.get(f"/s/{other_store.slug}/distribution/").status_code == 404
    assert client.get(f"/s/{store.slug}/distribution/").status_code == 200


def test_distributor_gets_a_share_link_and_a_poster_on_the_product_page(app, chain, store,
                                                                       shop, client):
    _d, code, me = distributor(app, chain, store)
    pid = product_of(app, shop["variant_id"])
    login(client, me, store=store)
    page = client.get(f"/s/{store.slug}/p/{pid}")
    assert f"ref={code}" in page.text
    poster = client.get(f"/s/{store.slug}/distribution/poster/p/{pid}.png")
    assert poster.status_code == 200 and poster.mimetype == "image/png"
    assert Image.open(io.BytesIO(poster.data)).size == (750, 1100)
    home = client.get(f"/s/{store.slug}/")
    assert f"ref={code}" in home.text
    assert client.get(f"/s/{store.slug}/distribution/poster/store.png").status_code == 200


def test_two_distributors_each_get_their_own_code_in_the_kept_share_bar(app, chain, store,
                                                                       shop):
    pid = product_of(app, shop["variant_id"])
    pages = {}
    for _ in range(2):
        _d, code, me = distributor(app, chain, store)
        browser = app.test_client()
        login(browser, me, store=store)
        pages[code] = [browser.get(f"/s/{store.slug}/p/{pid}").text,
                       browser.get(f"/s/{store.slug}/").text]
    (first, first_pages), (second, second_pages) = pages.items()
    for code, other, shown in ((first, second, first_pages), (second, first, second_pages)):
        for page in shown:
            assert f"ref={code}" in page and f"Your code: {code}" in page
            assert other not in page and "0CODE0" not in page


def test_customers_who_are_not_distributors_see_no_share_tools(app, chain, store, shop,
                                                               client):
    buyer = person(app, chain)
    pid = product_of(app, shop["variant_id"])
    login(client, buyer, store=store)
    assert "Share and earn" not in client.get(f"/s/{store.slug}/p/{pid}").text
    assert client.get(f"/s/{store.slug}/distribution/poster/p/{pid}.png").status_code == 404


def test_the_share_bar_follows_each_decision_on_the_next_page(app, chain, store, shop,
                                                               client):
    """The share code is kept between pages and forgotten by every commit that changes it."""
    from shopbuilder_distribution.models import DistributorStatus

    configure(app, chain, join_policy="approval")
    me = person(app, chain)
    url = f"/s/{store.slug}/p/{product_of(app, shop['variant_id'])}"
    login(client, me, store=store)
    assert "Share and earn" not in client.get(url).text
    d_id, code, _ = distributor(app, chain, store, customer=me)  # applied: pending
    assert "Share and earn" not in client.get(url).text
    with in_app(app):
        assert service.decide(db.session.get(Distributor, d_id), True, "hq")
        db.session.commit()
    assert f"ref={code}" in client.get(url).text
    with in_app(app):
        service.set_status(db.session.get(Distributor, d_id), DistributorStatus.SUSPENDED)
        db.session.rollback()  # changed its mind: nothing changed, the bar stays
    assert f"ref={code}" in client.get(url).text
    with in_app(app):
        service.set_status(db.session.get(Distributor, d_id), DistributorStatus.SUSPENDED)
        db.session.commit()
    assert "Share and earn" not in client.get(url).text


def test_poster_is_made_without_a_cjk_font(app, monkeypatch):
    from shopbuilder_distribution import poster

    with app.test_request_context():
        monkeypatch.setattr(poster, "FONT_CANDIDATES", ())
        assert poster.find_font_path(()) is None
        data = poster.render(title="龙井 Longjing", price_fen=1280, store_name="西湖店",
                             link="https://example.com/s/x?ref=ABC", image=None)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_centre_shows_earnings_and_masked_customer_names(app, chain, store, shop, client):
    _d, code, me = distributor(app, chain, store)
    buyer = person(app, chain, name="王小明")
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"])
    login(client, me, store=store)
    centre = client.get(f"/s/{store.slug}/distribution/")
    assert centre.status_code == 200 and "10.00" in centre.text
    customers = client.get(f"/s/{store.slug}/distribution/?view=customers")
    assert "王*明" in customers.text and "王小明" not in customers.text
    settle_all(app, order_id)
    configure(app, chain, withdraw_min_fen=500)
    asked = client.post(f"/s/{store.slug}/distribution/withdraw", data={"amount": "abc"},
                        follow_redirects=True)
    assert "Enter an amount" in asked.text
    asked = client.post(f"/s/{store.slug}/distribution/withdraw", data={"amount": "10"},
                        follow_redirects=True)
    assert "requested" in asked.text


def test_customer_applies_and_the_store_manager_approves(app, chain, store, other_store, shop,
                                                         client):
    configure(app, chain, join_policy="approval")
    applicant = person(app, chain)
    login(client, applicant, store=store)
    page = client.post(f"/s/{store.slug}/distribution/apply", data={"note": "tea lover"},
                       follow_redirects=True)
    assert page.text.count("We will look at your application soon.") == 1
    with in_app(app):
        row = db.session.scalar(db.select(Distributor).where(
            Distributor.customer_id == applicant.id))
        assert row.status == "pending"
        d_id = row.id
    other_manager = make_staff(app, "m2@north.example.com", chain, other_store, "manager")
    other = app.test_client()
    login(other, other_manager, store=other_store)
    refused = other.post(f"/s/{other_store.slug}/manage/distribution/applications/{d_id}",
                         data={"decision": "approve"})
    assert refused.status_code == 404
    manager = make_staff(app, "m@north.example.com", chain, store, "manager")
    staff = app.test_client()
    login(staff, manager, store=store)
    assert "tea lover" in staff.get(f"/s/{store.slug}/manage/distribution/").text
    page = staff.post(f"/s/{store.slug}/manage/distribution/applications/{d_id}",
                      data={"decision": "approve"}, follow_redirects=True)
    assert page.text.count("Application approved.") == 1  # the console shows it, once
    with in_app(app):
        assert db.session.get(Distributor, d_id).status == "active"


def test_hq_sees_its_saved_message_once(app, chain, store, shop):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    page = client.post(f"/hq/{chain.slug}/distribution/grades", follow_redirects=True,
                       data={"name": "Gold", "rate": "12.5", "second_rate": "3"})
    assert page.text.count("Grade saved.") == 1


def test_hq_pays_a_withdrawal_and_the_ledger_verifies(app, chain, store, other_chain, shop):
    configure(app, chain, withdraw_min_fen=100)
    d_id, code, _ = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    settle_all(app, buy(app, store, buyer, shop["variant_id"]))
    with in_app(app):
        w_id = service.request_withdrawal(db.session.get(Distributor, d_id), 1000).id
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    page = client.get(f"/hq/{chain.slug}/distribution/")
    assert page.status_code == 200 and "Top distributors" in page.text and code in page.text
    assert client.get(f"/hq/{chain.slug}/distribution/distributors").status_code == 200
    client.post(f"/hq/{chain.slug}/distribution/withdrawals/{w_id}",
                data={"decision": "pay", "reference": "BANK-42"})
    with in_app(app):
        row = db.session.get(Withdrawal, w_id)
        assert (row.state, row.reference) == ("paid", "BANK-42")
    assert verify(app, chain).ok
    foreign_hq = make_staff(app, "hq@other.example.com", other_chain, None, "hq")
    foreign = app.test_client()
    login(foreign, foreign_hq, chain=other_chain)
    assert foreign.post(f"/hq/{other_chain.slug}/distribution/withdrawals/{w_id}",
                        data={"decision": "reject"}).status_code == 404
    assert foreign.post(f"/hq/{other_chain.slug}/distribution/distributors/{d_id}",
                        data={"decision": "suspend"}).status_code == 404


def test_hq_sets_grades_in_percent_and_rules(app, chain, store, shop):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    base = f"/hq/{chain.slug}/distribution"
    client.post(f"{base}/grades", data={"name": "Gold", "rate": "12.5", "second_rate": "3"})
    bad = client.post(f"{base}/grades", data={"name": "Silly", "rate": "90",
                                              "second_rate": "0"}, follow_redirects=True)
    assert "from 0 to 50 percent" in bad.text
    bad = client.post(f"{base}/grades", data={"name": "Tiny", "rate": "0.125",
                                              "second_rate": "0"}, follow_redirects=True)
    assert "from 0 to 50 percent" in bad.text  # finer than one basis point
    with in_app(app):
        from shopbuilder_distribution.models import Grade

        gold = db.session.scalar(db.select(Grade).where(Grade.name == "Gold"))
        assert (gold.rate_bp, gold.second_rate_bp) == (1250, 300)
    client.post(f"{base}/settings", data={
        "join_policy": "spend", "binding_mode": "last_touch", "join_min_spend": "99.50",
        "protection_days": "15", "freeze_days": "2", "withdraw_min": "20",
        "withdraw_fee": "0.6"})
    with in_app(app):
        from shopbuilder.models import Chain

        policy = service.chain_settings(db.session.get(Chain, chain.id))
    assert policy["join_policy"] == "spend" and policy["join_min_spend_fen"] == 9950
    assert policy["binding_mode"] == "last_touch" and policy["self_purchase"] is False
    assert policy["withdraw_fee_bp"] == 60
    page = client.get(f"{base}/")
    assert "Gold" in page.text and "Silly" not in page.text and "Tiny" not in page.text
    assert 'name="rate" value="12.5"' in page.text and 'value="0.6"' in page.text


def test_a_later_default_reaches_a_chain_whose_hq_saved_the_rules_unchanged(
        app, chain, store, shop, monkeypatch):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    client.post(f"/hq/{chain.slug}/distribution/settings", data={
        "join_policy": "open", "binding_mode": "first_touch", "join_min_spend": "0",
        "protection_days": "30", "freeze_days": "0", "withdraw_min": "10",
        "withdraw_fee": "0"})
    monkeypatch.setitem(service.DEFAULTS, "protection_days", 45)  # a new plugin release
    with in_app(app):
        from shopbuilder.models import Chain

        row = db.session.get(Chain, chain.id)
        stored = settings.chain_values(row, service.NAMESPACE)
        policy = service.chain_settings(row)
    assert stored == {"join_policy": "open"}  # the one rule that differs from the default
    assert policy["protection_days"] == 45 and policy["join_policy"] == "open"


def test_hq_is_told_which_rules_to_correct_by_their_labels(app, chain, store, shop):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    page = client.post(f"/hq/{chain.slug}/distribution/settings", data={
        "join_policy": "everyone?", "binding_mode": "first_touch", "join_min_spend": "0",
        "protection_days": "0", "freeze_days": "0", "withdraw_min": "10",
        "withdraw_fee": "1"}, follow_redirects=True)
    assert "Please correct: Who may join, Protection period (days)." in page.text
    assert "join_policy" not in page.text.split("Please correct")[1].split("<")[0]


def test_hq_sets_a_fixed_commission_by_choosing_the_products_sku(app, chain, store, shop):
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    client = app.test_client()
    login(client, hq, chain=chain)
    base = f"/hq/{chain.slug}/distribution"
    product_id = product_of(app, shop["variant_id"])
    sku = f"SKU-{product_id}"
    page = client.get(f"{base}/")
    assert f'<option value="{sku}">Longjing · {sku}</option>' in page.text
    saved = client.post(f"{base}/fixed", data={"sku": sku, "fixed": "3", "second_fixed": "1"},
                        follow_redirects=True)
    assert "Product commission saved." in saved.text
    with in_app(app):
        row = db.session.scalar(db.select(ProductCommission))
        assert (row.product_id, row.fixed_fen, row.second_fixed_fen) == (product_id, 300, 100)
    unknown = client.post(f"{base}/fixed", data={"sku": "NOPE", "fixed": "3",
                                                 "second_fixed": "0"}, follow_redirects=True)
    assert "Choose a product by its SKU" in unknown.text
    client.post(f"{base}/fixed", data={"product_id": product_id, "remove": "1",
                                       "fixed": "0", "second_fixed": "0"})
    with in_app(app):
        assert db.session.scalar(db.select(ProductCommission)) is None


def test_top_distributors_count_sales_net_of_refunds(app, chain, store, shop):
    from distkit import act

    from shopbuilder.services import orders

    _d, code, _me = distributor(app, chain, store)
    buyer = person(app, chain)
    bind(app, chain, buyer, code)
    order_id = buy(app, store, buyer, shop["variant_id"], quantity=2)  # 200 yuan of goods
    act(app, order_id, lambda o: orders.refund(o, "system", amount_fen=5000))
    with in_app(app):
        (row, sales, commission), = service.top_distributors(chain.id)
    assert row.code == code and (sales, commission) == (15000, 1500)


def test_api_gives_the_share_code_and_the_centre_summary(app, chain, store, other_store, shop,
                                                          client):
    _d, code, me = distributor(app, chain, store)
    buyer = person(app, chain)
    base = f"/api/v1/stores/{store.slug}/distribution"

    def token(who, where=store):
        answer = client.post(f"/api/v1/stores/{where.slug}/auth/token",
                             json={"email": who.email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json['access_token']}"}

    share = client.get(f"{base}/share?product_id={product_of(app, shop['variant_id'])}",
                       headers=token(me))
    assert share.status_code == 200 and share.json["code"] == code
    assert f"ref={code}" in share.json["link"]
    bound = client.post(f"{base}/bindings", json={"code": code}, headers=token(buyer))
    assert bound.status_code == 200
    buy(app, store, buyer, shop["variant_id"])
    centre = client.get(f"{base}/centre", headers=token(me))
    assert centre.json["frozen_fen"] == 1000 and centre.json["customers"] == 1
    assert client.get(f"{base}/centre", headers=token(buyer)).status_code == 404
    off = client.get(f"/api/v1/stores/{other_store.slug}/distribution/centre",
                     headers=token(me, other_store))
    assert off.status_code == 404
    set_plugin_enabled(app, store, "distribution", False)
    assert client.get(f"{base}/centre", headers=token(me)).status_code == 404


def test_api_errors_speak_the_customers_language(app, chain, store, shop, client):
    buyer = person(app, chain)
    answer = client.post(f"/api/v1/stores/{store.slug}/auth/token",
                         json={"email": buyer.email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {answer.json['access_token']}"}
    base = f"/api/v1/stores/{store.slug}/distribution"
    refused = client.get(f"{base}/centre?lang=zh_CN", headers=headers)
    assert refused.status_code == 404 and refused.json["detail"] == "您还不是本店的分销员。"
    unknown = client.post(f"{base}/bindings?lang=zh_CN", json={"code": "NOSUCH"},
                          headers=headers)
    assert unknown.json["detail"] == "本店没有使用这个推广码的分销员。"
    english = app.test_client()  # no language cookie: the chain's English
    assert english.get(f"{base}/centre", headers=headers).json["detail"] == (
        "You are not a distributor of this shop.")


def test_the_centre_speaks_chinese(app, chain, store, shop, client):
    _d, _code, me = distributor(app, chain, store)
    login(client, me, store=store)
    page = client.get(f"/s/{store.slug}/distribution/?lang=zh_CN")
    assert "分销中心" in page.text and "可提现" in page.text
    hq = make_staff(app, "hq@acme.example.com", chain, None, "hq")
    console = app.test_client()
    login(console, hq, chain=chain)
    page = console.get(f"/hq/{chain.slug}/distribution/?lang=zh_CN")
    assert page.status_code == 200 and "分销员销售排行" in page.text
    assert "直接佣金比例（%）" in page.text
    assert "分销员" in console.get(f"/hq/{chain.slug}/distribution/distributors?lang=zh_CN").text


def test_a_store_without_the_plugin_shows_no_share_tools_nor_console(app, chain, store,
                                                                     other_store, shop):
    from distkit import make_listing

    variant_id = make_listing(app, chain, [store, other_store], title="Puer")
    pid = product_of(app, variant_id)
    _d, _code, me = distributor(app, chain, store)
    shopper = app.test_client()
    login(shopper, me, store=other_store)
    assert "Share and earn" not in shopper.get(f"/s/{other_store.slug}/p/{pid}").text
    assert "Distributor centre" not in shopper.get(f"/s/{other_store.slug}/account").text
    login(shopper, me, store=store)
    assert "Share and earn" in shopper.get(f"/s/{store.slug}/p/{pid}").text
    assert "Distributor centre" in shopper.get(f"/s/{store.slug}/account").text
    manager = make_staff(app, "m@south.example.com", chain, other_store, "manager")
    staff = app.test_client()
    login(staff, manager, store=other_store)
    assert staff.get(f"/s/{other_store.slug}/manage/distribution/").status_code == 404


def test_poster_uses_an_installed_cjk_font_and_the_product_picture(app, tmp_path):
    import pytest
    from shopbuilder_distribution import poster

    with app.test_request_context():
        if poster.find_font_path() is None:
            pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
        media = app.config["MEDIA_FOLDER"]
        picture = Image.new("RGB", (400, 300), "green")
        target = f"{media}/products/ab/pic.png"
        import os

        os.makedirs(os.path.dirname(target), exist_ok=True)
        picture.save(target)
        image = poster.product_image("products/ab/pic.png")
        assert image is not None and poster.product_image("../../etc/passwd") is None
        data = poster.render(title="西湖龙井 明前特级", price_fen=12800, store_name="西湖店",
                             link="https://example.com/s/x/p/1?ref=ABCD2345", image=image)
    drawn = Image.open(io.BytesIO(data)).convert("RGB")
    assert drawn.getpixel((375, 375)) == (0, 128, 0)  # the product picture, centred
