"""The operator's account and store commands: clear one-line refusals, never a traceback."""

from __future__ import annotations

import pytest

from shopbuilder.extensions import db
from shopbuilder.models import Chain, StaffRole, Store, User
from shopbuilder.testing import PASSWORD, in_app, make_staff


def cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["shopbuilder", *args], input=input)


def refused(result, message: str) -> bool:
    """Non-zero exit, one error line naming ``message``, no traceback."""
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    clean_exit = result.exception is None or isinstance(result.exception, SystemExit)
    return (result.exit_code != 0 and len(errors) == 1 and message in errors[0]
            and "Traceback" not in result.output and clean_exit)


def roles_of(app, email):
    with in_app(app):
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is None:
            return []
        return sorted((r.role, r.store_id) for r in db.session.scalars(
            db.select(StaffRole).where(StaffRole.user_id == user.id)))


def test_create_staff_twice_refuses_the_duplicate_hq_role_clearly(app, chain):
    first = cli(app, "create-staff", "--email", "hq@acme.test", "--chain", chain.slug,
                "--role", "hq", "--password", "long-enough-1")
    again = cli(app, "create-staff", "--email", "hq@acme.test", "--chain", chain.slug,
                "--role", "hq")
    assert first.exit_code == 0, first.output
    assert refused(again, "hq@acme.test is already hq of acme"), again.output
    assert roles_of(app, "hq@acme.test") == [("hq", None)]


def test_create_staff_gives_an_existing_account_a_role_and_keeps_its_password(
        app, chain, store):
    make_staff(app, "lin@acme.test")
    result = cli(app, "create-staff", "--email", "Lin@Acme.test", "--chain", chain.slug,
                 "--store", store.slug, "--role", "clerk")
    assert result.exit_code == 0, result.output
    assert "existing account, password unchanged" in result.output
    assert roles_of(app, "lin@acme.test") == [("clerk", store.id)]
    with in_app(app):
        user = db.session.scalar(db.select(User).where(User.email == "lin@acme.test"))
        assert user.check_password(PASSWORD)


def test_create_staff_refuses_a_password_for_an_existing_account(app, chain, store):
    make_staff(app, "lin@acme.test")
    result = cli(app, "create-staff", "--email", "lin@acme.test", "--chain", chain.slug,
                 "--store", store.slug, "--role", "clerk", "--password", "another-pass-9")
    assert refused(result, "its password is not changed here"), result.output
    assert roles_of(app, "lin@acme.test") == []


def test_create_staff_asks_for_the_password_of_a_new_account(app, chain, store):
    result = cli(app, "create-staff", "--email", "new@acme.test", "--chain", chain.slug,
                 "--store", store.slug, "--role", "manager",
                 input="long-enough-1\nlong-enough-1\n")
    assert result.exit_code == 0, result.output
    assert "new@acme.test is now manager of north (new account)" in result.output


@pytest.mark.parametrize("args, message", [
    (["--email", "not-an-email"], "is not an email address"),
    (["--email", "ok@acme.test", "--password", "short"], "at least 8 characters"),
    (["--email", "ok@acme.test", "--password", "x" * 129], "at most 128 characters"),
    (["--email", "ok@acme.test", "--password", "long-enough-1", "--name", "n" * 121],
     "name is longer than 120"),
    (["--email", "ok@acme.test", "--chain", "nope"], "no chain 'nope'"),
    (["--email", "ok@acme.test", "--store", "north"], "leave out --store"),
])
def test_create_staff_refuses_bad_input_in_one_line(app, chain, store, args, message):
    base = {"--chain": chain.slug, "--role": "hq"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    result = cli(app, "create-staff", *sum(({**base, **given}).items(), ()))
    assert refused(result, message), result.output
    assert roles_of(app, "ok@acme.test") == []


@pytest.mark.parametrize("args, message", [
    (["--email", "root@"], "is not an email address"),
    (["--email", "root@platform.test", "--password", "1234567"], "at least 8 characters"),
])
def test_create_admin_refuses_bad_input_in_one_line(app, args, message):
    if "--password" not in args:
        args = [*args, "--password", "long-enough-1"]
    result = cli(app, "create-admin", *args)
    assert refused(result, message), result.output
    with in_app(app):
        assert db.session.scalar(db.select(User.id)) is None


def test_create_admin_twice_is_refused(app):
    args = ["create-admin", "--email", "root@platform.test", "--password", "long-enough-1"]
    assert cli(app, *args).exit_code == 0
    assert refused(cli(app, *args), "already exists")


@pytest.mark.parametrize("slug, name, message", [
    ("Bad Slug", "Tea", "not a valid slug"),
    ("s" * 65, "Tea", "not a valid slug"),
    ("tea", "  ", "missing name"),
    ("tea", "n" * 121, "name is longer than 120 characters"),
])
def test_create_chain_refuses_bad_names(app, slug, name, message):
    result = cli(app, "create-chain", slug, name)
    assert refused(result, message), result.output
    with in_app(app):
        assert db.session.scalar(db.select(Chain.id)) is None


@pytest.mark.parametrize("extra, message", [
    (["--city", "c" * 65], "city is longer than 64 characters"),
    (["--address", "a" * 256], "address is longer than 255 characters"),
    (["--domain", "not a domain"], "not a domain name"),
    (["--domain", "localhost"], "not a domain name"),
    (["--domain", "127.0.0.1"], "not a domain name"),
    (["--domain", "shop.taken.test"], "already uses the domain shop.taken.test"),
])
def test_create_store_refuses_bad_fields(app, chain, store, extra, message):
    with in_app(app):
        db.session.get(Store, store.id).custom_domain = "shop.taken.test"
        db.session.commit()
    result = cli(app, "create-store", chain.slug, "east", "East Gate", *extra)
    assert refused(result, message), result.output
    with in_app(app):
        assert db.session.scalar(db.select(Store.id).where(Store.slug == "east")) is None


def test_create_store_refuses_a_slug_another_chain_uses(app, chain, other_chain_store):
    result = cli(app, "create-store", chain.slug, other_chain_store.slug, "Copy")
    assert refused(result, f"store '{other_chain_store.slug}' already exists"), result.output


def test_create_store_with_a_domain_serves_the_shop_there(app, chain):
    result = cli(app, "create-store", chain.slug, "east", "East Gate", "--domain",
                 "Shop.East-Gate.example.")
    assert result.exit_code == 0, result.output
    assert "at shop.east-gate.example" in result.output
    response = app.test_client().get("/", headers={"Host": "shop.east-gate.example"})
    assert response.status_code == 200 and "East Gate" in response.get_data(as_text=True)
