"""Importing stores from CSV: the service, the CLI and the HQ page."""

from __future__ import annotations

import io

import pytest
from flask_babel import force_locale

from shopbuilder.extensions import db
from shopbuilder.models import StaffRole, Store, User
from shopbuilder.services.store_import import import_stores, plan_import
from shopbuilder.testing import in_app, login, make_staff

HEADER = "slug,name,address,city,phone,lat,lng,manager_email\n"
GOOD = (
    HEADER
    + "west-gate,茗茶 西门店,西湖区 1 号,杭州,0571-8700 1001,30.25,120.15,wang@shop.test\n"
    + "east-gate,茗茶 东门店,上城区 2 号,杭州,,,,\n"
    + "lake-side,茗茶 湖滨店,湖滨路 3 号,杭州,13800000000,30.26,120.16,wang@shop.test\n"
)


def store_slugs(app, chain):
    with in_app(app):
        return sorted(db.session.scalars(db.select(Store.slug).where(Store.chain_id == chain.id)))


def run(app, chain, text, encoding="utf-8", dry_run=False):
    with in_app(app), force_locale("en"):
        return import_stores(chain, text.encode(encoding), dry_run=dry_run)


def test_import_creates_stores_and_one_invited_manager_for_two_stores(app, chain):
    plan, result = run(app, chain, GOOD)
    assert plan.errors == [] and result.stores == 3
    assert store_slugs(app, chain) == ["east-gate", "lake-side", "west-gate"]
    assert [i.email for i in result.invitations] == ["wang@shop.test"]
    with in_app(app):
        manager = db.session.scalar(db.select(User).where(User.email == "wang@shop.test"))
        # No password works until the invitation is used.
        assert not manager.check_password("") and manager.password_hash.startswith("!")
        stores = db.session.scalars(db.select(Store.slug).join(
            StaffRole, StaffRole.store_id == Store.id).where(StaffRole.user_id == manager.id))
        assert sorted(stores) == ["lake-side", "west-gate"]
        store = db.session.scalar(db.select(Store).where(Store.slug == "west-gate"))
        assert (store.name, store.lat, store.status) == ("茗茶 西门店", 30.25, "active")


def test_existing_account_is_attached_not_recreated(app, chain, store):
    existing = make_staff(app, "wang@shop.test", chain, store, "clerk")
    plan, result = run(app, chain, GOOD)
    assert result.invitations == [] and result.attached_managers == 1
    with in_app(app):
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1
        assert db.session.get(User, existing.id).check_password("secret-pass-1")


@pytest.mark.parametrize("row, reason", [
    ("bad slug,A,a,c,,,,", "slug 'bad slug'"),
    (",A,a,c,,,,", "missing slug"),
    ("x1,,a,c,,,,", "missing name"),
    ("x1,A,,,,,,", "missing address"),
    ("x1,A,a,c,,95,120,", "lat must be between -90 and 90"),
    ("x1,A,a,c,,120.1,30.2,", "look swapped"),
    ("x1,A,a,c,,30.1,,", "both lat and lng"),
    ("x1,A,a,c,,north,120,", "lat is not a number"),
    ("x1,A,a,c,not-a-phone,,,", "not a phone number"),
    ("x1,A,a,c,,,,someone", "not an email address"),
    ("north,A,a,c,,,,", "slug 'north' is already used by another store"),
    ("west-gate,A,a,c,,,,", "slug 'west-gate' is already used on line 2"),
])
def test_one_bad_row_is_reported_by_line_and_nothing_is_imported(app, chain, store, row, reason):
    plan, result = run(app, chain, GOOD + row + "\n")
    assert result is None
    assert any(str(e).startswith("line 5: ") and reason in str(e) for e in plan.errors), plan.errors
    assert store_slugs(app, chain) == ["north"]


def test_missing_and_unknown_columns_are_file_errors(app, chain):
    plan, _ = run(app, chain, "slug,name,town\nx,y,z\n")
    messages = [str(e) for e in plan.errors]
    assert messages[0].startswith("line 1: missing columns: address, city")
    assert "unknown columns: town" in messages[1]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_files_saved_by_excel_are_read(app, chain, encoding):
    plan, result = run(app, chain, GOOD, encoding=encoding)
    assert plan.errors == []
    assert store_slugs(app, chain) == ["east-gate", "lake-side", "west-gate"]
    with in_app(app):
        names = db.session.scalars(db.select(Store.name).where(Store.chain_id == chain.id))
        assert "茗茶 东门店" in set(names)


def test_binary_file_is_refused_clearly(app, chain):
    with in_app(app), force_locale("en"):
        plan = plan_import(chain, b"\xff\xfe\x00\x81\x82" * 10 + b"\x00\xff")
    assert plan.errors and plan.errors[0].line == 1


def test_dry_run_reports_and_writes_nothing(app, chain):
    plan, result = run(app, chain, GOOD, dry_run=True)
    assert plan.ok and result is None
    assert plan.new_managers == ["wang@shop.test"]
    assert store_slugs(app, chain) == []


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["shopbuilder", "import-stores", *args])


def test_cli_dry_run_then_import_prints_invitation_once(app, chain, tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text(GOOD, encoding="utf-8")
    checked = cli(app, chain.slug, str(path), "--dry-run")
    assert checked.exit_code == 0 and "Nothing was imported" in checked.output
    assert store_slugs(app, chain) == []
    done = cli(app, chain.slug, str(path))
    assert done.exit_code == 0, done.output
    assert "Imported 3 stores, 1 managers invited, 0 of the chain's staff attached" in done.output
    assert "wang@shop.test  http://127.0.0.1:5000/s/west-gate/manage/set-password/" in done.output


def test_cli_invalid_file_exits_non_zero_with_one_line_per_error(app, chain, tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text(GOOD + "x1,A,a,c,,95,120,\n", encoding="utf-8")
    result = cli(app, chain.slug, str(path))
    assert result.exit_code != 0
    assert "line 5: lat must be between -90 and 90" in result.output
    assert "1 error(s); nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert store_slugs(app, chain) == []
    assert cli(app, "no-such-chain", str(path)).exit_code != 0


def test_hq_page_previews_errors_then_imports_on_confirmation(app, client, chain, hq_user):
    client.set_cookie("lang", "en")
    login(client, hq_user, chain=chain)
    url = f"/hq/{chain.slug}/stores/import"
    bad = client.post(url, data={"file": (io.BytesIO((GOOD + ",A,a,c,,,,\n").encode()), "s.csv")})
    page = bad.get_data(as_text=True)
    assert "1 error: nothing will be imported" in page and "line 5: missing slug" in page
    assert 'action="/hq/acme/stores/import/confirm"' not in page

    preview = client.post(url, data={"file": (io.BytesIO(GOOD.encode("gbk")), "s.csv")})
    page = preview.get_data(as_text=True)
    assert "3 stores will be created." in page and "茗茶 湖滨店" in page
    assert store_slugs(app, chain) == []
    token = page.split('name="upload" type="hidden" value="')[1].split('"')[0]
    done = client.post(f"{url}/confirm", data={"upload": token})
    page = done.get_data(as_text=True)
    assert "3 stores imported" in page
    assert "wang@shop.test,west-gate,http://localhost/s/west-gate/manage/set-password/" in page
    assert store_slugs(app, chain) == ["east-gate", "lake-side", "west-gate"]
    # The same upload cannot be imported twice.
    again = client.post(f"{url}/confirm", data={"upload": token})
    assert again.status_code == 302


def test_hq_cannot_confirm_another_chains_upload(app, client, chain, other_chain, hq_user):
    rival_hq = make_staff(app, "hq@rival.test", other_chain, None, "hq")
    login(client, rival_hq, chain=other_chain)
    page = client.post(f"/hq/{other_chain.slug}/stores/import",
                       data={"file": (io.BytesIO(GOOD.encode()), "s.csv")}).get_data(as_text=True)
    token = page.split('name="upload" type="hidden" value="')[1].split('"')[0]
    client.post(f"/hq/{other_chain.slug}/logout")
    login(client, hq_user, chain=chain)
    response = client.post(f"/hq/{chain.slug}/stores/import/confirm", data={"upload": token})
    assert response.status_code == 302  # "expired": the file is not this chain's
    assert store_slugs(app, chain) == [] and store_slugs(app, other_chain) == []


def test_an_account_of_another_chain_is_invited_like_a_new_one(app, chain, other_chain,
                                                                other_chain_store):
    make_staff(app, "wang@shop.test", other_chain, other_chain_store, "manager")
    plan, result = run(app, chain, GOOD)
    # The plan and the result say nothing about the account existing elsewhere.
    assert (plan.invited, len(plan.existing_managers)) == (1, 0)
    assert [i.email for i in result.invitations] == ["wang@shop.test"]
    with in_app(app):
        pending = db.session.scalars(db.select(StaffRole.pending).where(
            StaffRole.chain_id == chain.id)).all()
        assert pending == [True, True]
