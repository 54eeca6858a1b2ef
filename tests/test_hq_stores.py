"""The HQ console's store pages, the store console's staff page and the platform admin."""

from __future__ import annotations

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import Chain, StaffRole, Store, User
from shopbuilder.testing import PASSWORD, in_app, login, make_staff, make_store

STORE_FIELDS = {
    "slug": "east-gate", "name": "East Gate", "city": "杭州", "address": "1 East Road",
    "phone": "0571-8700 1009", "lat": "30.25", "lng": "120.15",
    "opening_hours": "mon-fri 09:00-21:00\nsat,sun 10:00-14:00, 15:00-22:00",
    "description": "",
}


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English text; the zh_CN catalogue is tested elsewhere."""
    client.set_cookie("lang", "en")


@pytest.fixture
def hq(client, chain, hq_user):
    login(client, hq_user, chain=chain)
    return client


def test_hq_store_list_searches_filters_and_paginates(app, hq, chain, store, other_chain_store):
    app.config["STORES_PER_PAGE"] = 2
    for n in range(3):
        make_store(app, chain, f"shop-{n}", f"Lake Shop {n}", city="苏州")
    make_store(app, chain, "closed-one", "Closed", city="苏州", status="suspended")
    page = hq.get(f"/hq/{chain.slug}/stores").get_data(as_text=True)
    assert "5 stores" in page and "Page 1 of 3" in page
    assert other_chain_store.name not in page
    found = hq.get(f"/hq/{chain.slug}/stores?q=lake").get_data(as_text=True)
    assert "3 stores" in found and "North Street" not in found
    by_city = hq.get(f"/hq/{chain.slug}/stores?city=苏州&status=suspended").get_data(as_text=True)
    assert "1 store" in by_city and "Closed" in by_city
    second = hq.get(f"/hq/{chain.slug}/stores?q=lake&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "q=lake" in second


def test_hq_creates_a_store_with_opening_hours(app, hq, chain):
    response = hq.post(f"/hq/{chain.slug}/stores/new", data=STORE_FIELDS)
    assert response.status_code == 302
    with in_app(app):
        store = db.session.scalar(db.select(Store).where(Store.slug == "east-gate"))
        assert store.chain_id == chain.id
        assert store.opening_hours["fri"] == [["09:00", "21:00"]]
        assert store.opening_hours["sun"] == [["10:00", "14:00"], ["15:00", "22:00"]]
        assert (store.lat, store.lng) == (30.25, 120.15)


@pytest.mark.parametrize("field, value, message", [
    ("slug", "East Gate", "lower-case letters"),
    ("slug", "north", "taken"),
    ("lat", "91", "between -90"),
    ("lng", "east", "not a number"),
    ("phone", "call me", "not a phone number"),
    ("opening_hours", "mon 21:00-09:00", "not an opening time range"),
    ("opening_hours", "someday 09:00-10:00", "unknown day"),
])
def test_hq_store_form_explains_bad_input(hq, chain, store, field, value, message):
    response = hq.post(f"/hq/{chain.slug}/stores/new", data={**STORE_FIELDS, field: value})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_hq_edits_a_store_and_keeps_its_hours_readable(app, hq, chain, store):
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/edit", data={**STORE_FIELDS, "slug": "north"})
    page = hq.get(f"/hq/{chain.slug}/stores/{store.id}/edit").get_data(as_text=True)
    assert "mon-fri 09:00-21:00" in page and "sat-sun 10:00-14:00, 15:00-22:00" in page
    with in_app(app):
        assert db.session.get(Store, store.id).name == "East Gate"


def test_suspending_asks_first_then_closes_the_shop(app, hq, client, chain, store):
    confirm = hq.get(f"/hq/{chain.slug}/stores/{store.id}/suspend")
    assert "Suspend North Street?" in confirm.get_data(as_text=True)
    with in_app(app):
        assert db.session.get(Store, store.id).status == "active"
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/suspend")
    assert client.get(f"/s/{store.slug}/").status_code == 503
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/reactivate")
    assert client.get(f"/s/{store.slug}/").status_code == 200


def test_hq_cannot_touch_another_chains_store(hq, chain, other_chain_store):
    for path in ("edit", "suspend", "staff"):
        url = f"/hq/{chain.slug}/stores/{other_chain_store.id}/{path}"
        assert hq.get(url).status_code == 404
        assert hq.post(url).status_code == 404


def test_hq_creates_a_manager_who_can_sign_in(app, hq, client, chain, store):
    response = hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff", data={
        "email": "New.Manager@north.test", "role": "manager", "password": "long-enough-1",
    })
    assert response.status_code == 200 and "Invitation made." in response.get_data(as_text=True)
    client.post(f"/hq/{chain.slug}/logout")
    # Signing in with the initial password is joining.
    signed_in = client.post(f"/s/{store.slug}/manage/login",
                            data={"email": "new.manager@north.test", "password": "long-enough-1"})
    assert signed_in.status_code == 302
    assert client.get(f"/s/{store.slug}/manage/staff").status_code == 200


def test_hq_attaches_an_existing_user_as_manager(app, hq, chain, store, other_store):
    existing = make_staff(app, "both@acme.test", chain, other_store, "manager")
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
            data={"email": "both@acme.test", "role": "manager"})
    with in_app(app):
        roles = db.session.scalars(db.select(StaffRole.store_id).where(
            StaffRole.user_id == existing.id)).all()
        assert sorted(roles) == sorted([store.id, other_store.id])
        assert db.session.get(User, existing.id).check_password(PASSWORD)


def test_new_account_without_password_gets_an_invitation_link(app, hq, client, chain, store):
    page = hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
                   data={"email": "invited@north.test", "role": "manager"}).get_data(as_text=True)
    assert "Invitation link" in page and "Invited, not joined yet" in page
    link = page.split(f"/s/{store.slug}/manage/set-password/")[1].split("<")[0]
    client.post(f"/hq/{chain.slug}/logout")
    # Before choosing a password nothing opens the account.
    denied = client.post(f"/s/{store.slug}/manage/login",
                         data={"email": "invited@north.test", "password": ""})
    assert denied.status_code == 200
    url = f"/s/{store.slug}/manage/set-password/{link}"
    done = client.post(url, data={"password": "chosen-pass-1", "confirm": "chosen-pass-1"})
    assert done.status_code == 302
    # The link works once.
    assert client.get(url).status_code == 404
    with in_app(app):
        user = db.session.scalar(db.select(User).where(User.email == "invited@north.test"))
        assert user.check_password("chosen-pass-1")


def test_manager_adds_a_clerk_but_a_clerk_cannot(app, client, chain, store, manager, clerk):
    login(client, manager, store=store)
    page = client.get(f"/s/{store.slug}/manage/staff").get_data(as_text=True)
    assert manager.email in page and clerk.email in page
    client.post(f"/s/{store.slug}/manage/staff",
                data={"email": "new.clerk@north.test", "password": "long-enough-1"})
    with in_app(app):
        role = db.session.scalar(db.select(StaffRole).join(User).where(
            User.email == "new.clerk@north.test"))
        assert (role.role, role.store_id) == ("clerk", store.id)
    client.post(f"/s/{store.slug}/manage/logout")
    login(client, clerk, store=store)
    assert client.get(f"/s/{store.slug}/manage/staff").status_code == 404


def test_admin_creates_a_chain_with_its_first_hq_account(app, client, admin_user):
    login(client, admin_user)
    response = client.post("/admin/chains/new", data={
        "slug": "green-leaf", "name": "Green Leaf", "locale": "en",
        "hq_email": "boss@greenleaf.test", "hq_password": "long-enough-1",
    })
    assert response.status_code == 302
    assert "Green Leaf" in client.get("/admin/").get_data(as_text=True)
    client.post("/admin/logout")
    signed_in = client.post("/hq/green-leaf/login",
                            data={"email": "boss@greenleaf.test", "password": "long-enough-1"})
    assert signed_in.status_code == 302
    assert client.get("/hq/green-leaf/stores").status_code == 200
    with in_app(app):
        assert db.session.scalar(db.select(Chain.locale).where(Chain.slug == "green-leaf")) == "en"


def test_admin_chain_form_refuses_a_taken_slug(client, admin_user, chain):
    login(client, admin_user)
    page = client.post("/admin/chains/new", data={
        "slug": chain.slug, "name": "Again", "locale": "en",
        "hq_email": "x@y.test", "hq_password": "long-enough-1",
    }).get_data(as_text=True)
    assert "taken" in page


def test_hq_console_speaks_the_chains_language(app, chain, hq_user):
    client = app.test_client()  # no "lang" cookie: the chain's zh_CN
    login(client, hq_user, chain=chain)
    page = client.get(f"/hq/{chain.slug}/stores").get_data(as_text=True)
    assert "新建门店" in page and "导入门店" in page


def test_every_console_page_renders_for_its_staff(app, chain, store, hq_user, manager,
                                                  admin_user):
    pages = [
        (hq_user, {"chain": chain}, [f"/hq/{chain.slug}/", f"/hq/{chain.slug}/stores",
                                     f"/hq/{chain.slug}/stores/new",
                                     f"/hq/{chain.slug}/stores/{store.id}/edit",
                                     f"/hq/{chain.slug}/stores/{store.id}/suspend",
                                     f"/hq/{chain.slug}/stores/{store.id}/reactivate",
                                     f"/hq/{chain.slug}/stores/{store.id}/staff",
                                     f"/hq/{chain.slug}/stores/import"]),
        (manager, {"store": store}, [f"/s/{store.slug}/manage/", f"/s/{store.slug}/manage/staff"]),
        (admin_user, {}, ["/admin/", "/admin/chains/new"]),
    ]
    for account, where, urls in pages:
        for lang in ("zh_CN", "en"):
            client = app.test_client()
            client.set_cookie("lang", lang)
            login(client, account, **where)
            for url in urls:
                assert client.get(url).status_code == 200, (url, lang)


def test_hq_gives_a_store_its_own_domain_which_serves_the_shop_without_prefix(
        app, hq, chain, store):
    before = hq.get("/login", base_url="http://tea.example.cn")  # caches "unknown host"
    assert store.name not in before.get_data(as_text=True)
    saved = hq.post(f"/hq/{chain.slug}/stores/{store.id}/edit",
                    data={**STORE_FIELDS, "slug": "north", "custom_domain": "Tea.Example.CN"})
    assert saved.status_code == 302
    with in_app(app):
        assert db.session.get(Store, store.id).custom_domain == "tea.example.cn"

    page = hq.get("/login", base_url="http://tea.example.cn").get_data(as_text=True)
    assert "East Gate" in page and 'href="/register"' in page and "/s/north/" not in page

    hq.post(f"/hq/{chain.slug}/stores/{store.id}/edit",
            data={**STORE_FIELDS, "slug": "north", "custom_domain": "cha.example.cn"})
    assert "East Gate" in hq.get("/", base_url="http://cha.example.cn").get_data(as_text=True)
    old = hq.get("/", base_url="http://tea.example.cn").get_data(as_text=True)
    assert "East Gate" not in old


@pytest.mark.parametrize("value, message", [
    ("https://tea.example.cn/", "not a domain name"),
    ("tea", "not a domain name"),
    ("10.0.0.1", "not a domain name"),
    ("localhost", "not a domain name"),
    ("rival.example.cn", "Another store already uses this domain."),
])
def test_hq_store_domain_must_be_a_free_host_name(
        app, hq, chain, store, other_chain_store, value, message):
    with in_app(app):
        db.session.get(Store, other_chain_store.id).custom_domain = "rival.example.cn"
        db.session.commit()
    response = hq.post(f"/hq/{chain.slug}/stores/{store.id}/edit",
                       data={**STORE_FIELDS, "slug": "north", "custom_domain": value})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    with in_app(app):
        assert db.session.get(Store, store.id).custom_domain is None


def test_hq_store_domain_cannot_be_under_the_platforms_base_domain(app, hq, chain, store):
    app.config["BASE_DOMAIN"] = "shops.test"
    response = hq.post(f"/hq/{chain.slug}/stores/{store.id}/edit",
                       data={**STORE_FIELDS, "slug": "north", "custom_domain": "x.shops.test"})
    assert "one of the platform&#39;s own addresses" in response.get_data(as_text=True)


def _invite(hq, chain, store, email="late@north.test", role="manager"):
    page = hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
                   data={"email": email, "role": role}).get_data(as_text=True)
    return page.split(f"/s/{store.slug}/manage/set-password/")[1].split("<")[0]


def _user(app, email) -> User:
    with in_app(app):
        user = db.session.scalar(db.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _role_id(app, email, store) -> int:
    with in_app(app):
        return db.session.scalar(db.select(StaffRole.id).join(User).where(
            User.email == email, StaffRole.store_id == store.id))


def _link_in(page: str, store) -> str:
    return f"/s/{store.slug}/manage/set-password/" + page.split(
        f"/s/{store.slug}/manage/set-password/")[1].split("<")[0]


def test_hq_sends_a_new_invitation_when_the_first_one_expired(
        app, hq, client, chain, store, monkeypatch):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from shopbuilder import auth

    class FifteenDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return super().get_timestamp() - 15 * 86400

    # The first link was made fifteen days ago: past its 14 days.
    with monkeypatch.context() as patch:
        patch.setattr(auth, "_invitations", lambda: URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="staff-invitation", signer=FifteenDaysAgo))
        expired = f"/s/{store.slug}/manage/set-password/" + _invite(hq, chain, store)
    assert client.get(expired).status_code == 404
    user = _user(app, "late@north.test")

    staff_page = hq.get(f"/hq/{chain.slug}/stores/{store.id}/staff").get_data(as_text=True)
    renew = (f"/hq/{chain.slug}/stores/{store.id}/staff/"
             f"{_role_id(app, 'late@north.test', store)}/invitation")
    assert f'href="{renew}"' in staff_page and "Send a new invitation" in staff_page
    confirm = hq.get(renew).get_data(as_text=True)
    assert "Send a new invitation to late@north.test?" in confirm
    assert _user(app, "late@north.test").password_hash == user.password_hash  # asked only

    page = hq.post(renew).get_data(as_text=True)
    assert "Invitation link (shown once, valid 14 days)" in page
    fresh = _link_in(page, store)
    client.post(f"/hq/{chain.slug}/logout")
    done = client.post(fresh, data={"password": "chosen-pass-1", "confirm": "chosen-pass-1"})
    assert done.status_code == 302
    assert _user(app, "late@north.test").check_password("chosen-pass-1")


def test_a_new_invitation_kills_the_earlier_link(app, hq, client, chain, store):
    first = f"/s/{store.slug}/manage/set-password/" + _invite(hq, chain, store)
    user = _user(app, "late@north.test")
    role_id = _role_id(app, user.email, store)
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff/{role_id}/invitation")
    assert client.get(first).status_code == 404


def test_no_new_invitation_for_someone_who_chose_a_password(app, hq, chain, store, manager):
    url = (f"/hq/{chain.slug}/stores/{store.id}/staff/"
           f"{_role_id(app, manager.email, store)}/invitation")
    response = hq.post(url, follow_redirects=True)
    assert "manager@north.test has already chosen a password." in response.get_data(as_text=True)
    assert _user(app, manager.email).check_password(PASSWORD)


def test_hq_cannot_renew_an_invitation_of_another_stores_person(
        app, hq, chain, store, other_store):
    _invite(hq, chain, other_store, "elsewhere@south.test")
    user = _user(app, "elsewhere@south.test")
    # Another store's role, asked for under this store's address.
    url = (f"/hq/{chain.slug}/stores/{store.id}/staff/"
           f"{_role_id(app, user.email, other_store)}/invitation")
    assert hq.get(url).status_code == 404 and hq.post(url).status_code == 404


def test_manager_sends_a_clerk_a_new_invitation_but_not_a_manager(
        app, client, chain, store, manager):
    login(client, manager, store=store)
    client.post(f"/s/{store.slug}/manage/staff", data={"email": "new.clerk@north.test"})
    clerk = _user(app, "new.clerk@north.test")
    staff_page = client.get(f"/s/{store.slug}/manage/staff").get_data(as_text=True)
    renew = f"/s/{store.slug}/manage/staff/{_role_id(app, clerk.email, store)}/invitation"
    assert f'href="{renew}"' in staff_page
    assert "Send a new invitation to new.clerk@north.test?" in client.get(renew).get_data(
        as_text=True)
    page = client.post(renew).get_data(as_text=True)
    assert "/manage/set-password/" in page
    assert _user(app, clerk.email).password_hash != clerk.password_hash

    invited_manager = make_staff(app, "m2@north.test", chain, store, "manager")
    with in_app(app):
        db.session.get(User, invited_manager.id).password_hash = "!waiting-for-link"
        db.session.commit()
    manager_role = _role_id(app, invited_manager.email, store)
    assert client.get(f"/s/{store.slug}/manage/staff/{manager_role}/invitation"
                      ).status_code == 404


# -- no existence oracle: HQ cannot tell whether an address has an account elsewhere --------


def _without_identifiers(page: str, *emails: str) -> str:
    """The page with what legitimately differs (the addresses, the link tokens) masked."""
    import re

    for email in emails:
        page = page.replace(email, "EMAIL")
    page = re.sub(r"/staff/\d+/invitation", "/staff/ROLE/invitation", page)
    return re.sub(r"/set-password/[^<\"\s]+", "/set-password/TOKEN", page)


def test_adding_an_address_says_the_same_whether_or_not_it_has_an_account(
        app, client, hq, chain, store, other_chain, other_chain_store):
    make_staff(app, "rival.manager@rival.test", other_chain, other_chain_store, "manager")
    url = f"/hq/{chain.slug}/stores/{store.id}/staff"

    for password in ("", "long-enough-1"):
        with in_app(app):  # start each round from the same staff list
            db.session.execute(db.delete(StaffRole).where(StaffRole.store_id == store.id))
            db.session.commit()
        existing = hq.post(url, data={"email": "rival.manager@rival.test", "role": "manager",
                                      "password": password}).get_data(as_text=True)
        with in_app(app):
            db.session.execute(db.delete(StaffRole).where(StaffRole.store_id == store.id))
            db.session.commit()
        fresh_email = f"nobody{len(password)}@fresh.test"
        fresh = hq.post(url, data={"email": fresh_email, "role": "manager",
                                   "password": password}).get_data(as_text=True)
        assert "Invitation made." in existing
        assert _without_identifiers(existing, "rival.manager@rival.test") == \
            _without_identifiers(fresh, fresh_email)
        listed = hq.get(url).get_data(as_text=True)
        assert "Invited, not joined yet" in listed


def test_an_invited_account_of_another_chain_gets_nothing_until_it_joins(
        app, client, hq, chain, store, other_chain, other_chain_store):
    rival = make_staff(app, "rival.manager@rival.test", other_chain, other_chain_store, "manager")
    page = hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
                   data={"email": rival.email, "role": "manager", "password": "hq-chose-this"}
                   ).get_data(as_text=True)
    link = _link_in(page, store)
    client.post(f"/hq/{chain.slug}/logout")
    # HQ's "initial password" never touches an existing account...
    assert client.post(f"/s/{store.slug}/manage/login", data={
        "email": rival.email, "password": "hq-chose-this"}).status_code == 200
    # ...and the link opens the same page as for a new address, but only the account's
    # own password joins (it is never changed there).
    assert "Join the store console" in client.get(link).get_data(as_text=True)
    wrong = client.post(link, data={"password": "hq-chose-this", "confirm": "hq-chose-this"})
    assert "Wrong password." in wrong.get_data(as_text=True)
    joined = client.post(link, data={"password": PASSWORD, "confirm": PASSWORD})
    assert joined.status_code == 302
    assert client.get(f"/s/{store.slug}/manage/").status_code == 200
    assert _user(app, rival.email).check_password(PASSWORD)


def test_an_invited_person_joins_by_signing_in_at_the_store_console(
        app, client, hq, chain, store, other_chain, other_chain_store):
    rival = make_staff(app, "rival.manager@rival.test", other_chain, other_chain_store, "manager")
    hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
            data={"email": rival.email, "role": "clerk"})
    client.post(f"/hq/{chain.slug}/logout")
    login(client, rival, store=store)
    assert client.get(f"/s/{store.slug}/manage/").status_code == 200
    with in_app(app):
        assert db.session.scalar(db.select(StaffRole.pending).where(
            StaffRole.user_id == rival.id, StaffRole.store_id == store.id)) is False


def test_another_chains_invitation_cannot_choose_the_password_of_its_account(
        app, client, hq, chain, store, other_chain, other_chain_store):
    """Chain B invited someone who never chose a password; chain A invites them too. A's
    link must not let A's HQ choose that password and so walk into B's console."""
    rival_hq = make_staff(app, "hq@rival.test", other_chain, None, "hq")
    rival = app.test_client()
    login(rival, rival_hq, chain=other_chain)
    rival.post(f"/hq/{other_chain.slug}/stores/{other_chain_store.id}/staff",
               data={"email": "shared@people.test", "role": "manager"})
    page = hq.post(f"/hq/{chain.slug}/stores/{store.id}/staff",
                   data={"email": "shared@people.test", "role": "manager"}).get_data(as_text=True)
    taken = client.post(_link_in(page, store), data={"password": "chosen-by-a-1",
                                                      "confirm": "chosen-by-a-1"})
    assert taken.status_code == 200 and "Wrong password." in taken.get_data(as_text=True)
    assert _user(app, "shared@people.test").password_hash.startswith("!")
