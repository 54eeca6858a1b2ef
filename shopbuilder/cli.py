"""``flask --app wsgi shopbuilder ...``: the operator's commands.

Errors are one clear line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import re

import click
from email_validator import EmailNotValidError, validate_email
from flask import has_app_context
from flask.cli import AppGroup, with_appcontext
from flask_babel import force_locale
from flask_migrate import upgrade

from . import tenancy
from .extensions import db
from .models import SLUG_PATTERN, Chain, StaffRole, Store, User
from .services import stores as rules


class TenantBlindGroup(AppGroup):
    """Commands run outside any request and see every tenant, on purpose."""

    def invoke(self, ctx):
        with tenancy.unscoped():
            try:
                return super().invoke(ctx)
            finally:
                # Under Flask's test runner the app context is already gone here.
                if has_app_context():
                    db.session.remove()


#: Core commands; plugin commands join them in :func:`register_cli`.
CORE_COMMANDS: list[click.Command] = []


def command(name):
    def decorator(func):
        # with_appcontext: the real `flask` pushes a context, Flask's test runner does not.
        cmd = click.command(name)(with_appcontext(func))
        CORE_COMMANDS.append(cmd)
        return cmd

    return decorator


def fail(message: str):
    raise click.ClickException(message)


#: Shortest password an operator may give an account here (the sign-up form's rule too).
MIN_PASSWORD = 8
MAX_PASSWORD = 128


def checked(check, *args):
    """Run a rule from :mod:`shopbuilder.services.stores`; its refusal is one CLI error line."""
    with force_locale("en"):  # operators read English, as in import-stores
        try:
            return check(*args)
        except rules.InvalidValue as exc:
            fail(str(exc))


def check_slug(slug: str) -> str:
    if len(slug) > rules.MAX_LENGTHS["slug"] or not re.match(SLUG_PATTERN, slug):
        fail(f"'{slug}' is not a valid slug: use lower-case letters, digits and dashes "
             f"(at most {rules.MAX_LENGTHS['slug']})")
    return slug


def check_email(email: str) -> str:
    """The address normalised (lower-case), or one clear line when it is not one."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        fail(f"'{email}' is not an email address: {exc}")
    if len(result.normalized) > 255:
        fail("the email address is longer than 255 characters")
    return result.normalized.lower()


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        fail(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        fail(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def check_person_name(name: str | None, email: str) -> str:
    name = (name or "").strip() or email.split("@")[0]
    if len(name) > 120:
        fail("the name is longer than 120 characters")
    return name


def chain_or_fail(slug: str) -> Chain:
    chain = db.session.scalar(db.select(Chain).where(Chain.slug == slug))
    if chain is None:
        fail(f"no chain '{slug}'")
    return chain


def database_is_new() -> bool:
    with tenancy.unscoped():
        return db.session.scalar(db.select(Chain.id).limit(1)) is None


@command("init")
@click.option("--demo", is_flag=True, help="Load the demo chain when the database is new.")
def init_command(demo):
    """Create or upgrade the database; with --demo, add demo data to a new one."""
    upgrade(revision="heads")
    click.echo("Database is at the latest version.")
    if demo:
        if database_is_new():
            from .demo import load_demo

            load_demo(echo=click.echo)
        else:
            click.echo("Database already has data; demo data not loaded.")


@command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Shown in the consoles (default: the email's name).")
@click.password_option()
def create_admin(email, name, password):
    """Create a platform administrator."""
    email = check_email(email)
    password = check_password(password)
    if db.session.scalar(db.select(User.id).where(User.email == email)):
        fail(f"a user with email {email} already exists")
    user = User(email=email, name=check_person_name(name, email), is_platform_admin=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created platform admin {email}.")


@command("create-chain")
@click.argument("slug")
@click.argument("name")
@click.option("--locale", default="zh_CN", type=click.Choice(["zh_CN", "en"]))
def create_chain(slug, name, locale):
    """Create a chain (HQ) with SLUG and NAME."""
    check_slug(slug)
    name = checked(rules.check_name, name)
    if db.session.scalar(db.select(Chain.id).where(Chain.slug == slug)):
        fail(f"chain '{slug}' already exists")
    db.session.add(Chain(slug=slug, name=name, locale=locale))
    db.session.commit()
    click.echo(f"Created chain {slug}.")


@command("create-store")
@click.argument("chain_slug")
@click.argument("slug")
@click.argument("name")
@click.option("--city", default="")
@click.option("--address", default="")
@click.option("--domain", default="", help="The store's own domain, e.g. shop.example.com.")
def create_store(chain_slug, slug, name, city, address, domain):
    """Create store SLUG named NAME in chain CHAIN_SLUG."""
    check_slug(slug)
    name = checked(rules.check_name, name)
    city = checked(rules.check_length, city, "city")
    address = checked(rules.check_length, address, "address")
    domain = checked(rules.check_store_domain, domain)
    chain = chain_or_fail(chain_slug)
    if rules.slug_taken(slug):
        fail(f"store '{slug}' already exists")
    if domain and rules.domain_taken(domain):
        fail(f"another store already uses the domain {domain}")
    db.session.add(Store(chain_id=chain.id, slug=slug, name=name, city=city, address=address,
                         custom_domain=domain))
    db.session.commit()
    tenancy.forget_custom_domain(domain)  # a cached "unknown host" must not linger
    click.echo(f"Created store {slug} in {chain_slug}" + (f" at {domain}." if domain else "."))


def _has_role(user: User, chain: Chain, store: Store | None, role: str) -> bool:
    # NULL store ids never collide in the unique constraint, so an hq role is checked here.
    stmt = db.select(StaffRole.id).where(
        StaffRole.user_id == user.id, StaffRole.chain_id == chain.id, StaffRole.role == role,
        StaffRole.store_id.is_(None) if store is None else StaffRole.store_id == store.id,
    )
    return db.session.scalar(stmt) is not None


@command("create-staff")
@click.option("--email", required=True)
@click.option("--chain", "chain_slug", required=True)
@click.option("--store", "store_slug", default=None, help="Store for a manager or clerk.")
@click.option("--role", type=click.Choice(StaffRole.ROLES), required=True)
@click.option("--name", default=None, help="For a new account (default: the email's name).")
@click.option("--password", default=None,
              help="For a new account; asked for when left out. An existing account keeps "
                   "its password.")
def create_staff(email, chain_slug, store_slug, role, name, password):
    """Give a staff account a role at a chain (hq) or store (manager, clerk).

    A new account is created with a password; an existing one only gains the role.
    """
    email = check_email(email)
    chain = chain_or_fail(chain_slug)
    store = None
    if role != "hq":
        if not store_slug:
            fail(f"a {role} needs --store")
        store = db.session.scalar(
            db.select(Store).where(Store.slug == store_slug, Store.chain_id == chain.id)
        )
        if store is None:
            fail(f"no store '{store_slug}' in chain '{chain_slug}'")
    elif store_slug:
        fail("an hq role is for the whole chain: leave out --store")
    where = store.slug if store else chain.slug
    user = db.session.scalar(db.select(User).where(User.email == email))
    if user is None:
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        user = User(email=email, name=check_person_name(name, email))
        user.set_password(check_password(password))
        db.session.add(user)
        db.session.flush()
        note = "new account"
    else:
        if password is not None:
            fail(f"{email} already has an account; its password is not changed here "
                 "(leave out --password to give it the role)")
        if _has_role(user, chain, store, role):
            fail(f"{email} is already {role} of {where}")
        note = "existing account, password unchanged"
    db.session.add(StaffRole(
        user_id=user.id, chain_id=chain.id, store_id=store.id if store else None, role=role
    ))
    db.session.commit()
    click.echo(f"{email} is now {role} of {where} ({note}).")


@command("import-stores")
@click.argument("chain_slug")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check the file and report; import nothing.")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True,
              help="Site address used in the managers' invitation links.")
def import_stores_command(chain_slug, file, dry_run, base_url):
    """Import stores into CHAIN_SLUG from a CSV FILE (all rows or none).

    Columns: slug, name, address, city, phone, lat, lng, manager_email.
    """
    from flask import current_app, url_for

    from .services.store_import import ImportFailed, commit_import, plan_import

    chain = chain_or_fail(chain_slug)
    data = file.read()
    # Operators read English here; the HQ page shows the same messages translated.
    with force_locale("en"):
        rows = max(data.count(b"\n") - 1, 1)
        stderr = click.get_text_stream("stderr")
        with click.progressbar(length=rows, label="Checking ", file=stderr) as bar:
            plan = plan_import(chain, data, progress=bar.update)
        if plan.errors:
            for error in plan.errors:
                click.echo(str(error), err=True)
            fail(f"{file.name}: {len(plan.errors)} error(s); nothing was imported")
        summary = (f"{len(plan.rows)} stores, {plan.invited} managers invited, "
                   f"{len(plan.existing_managers)} of the chain's staff attached")
        if dry_run:
            click.echo(f"Dry run ({plan.encoding}): {summary}. Nothing was imported.")
            return
        with click.progressbar(length=len(plan.rows), label="Importing", file=stderr) as bar:
            try:
                result = commit_import(plan, progress=bar.update)
            except ImportFailed as exc:
                fail(str(exc))
        click.echo(f"Imported {summary}.")
        if result.invitations:
            click.echo("Invitation links for the invited managers (shown once, valid 14 days):")
            with current_app.test_request_context(base_url=base_url):
                for invitation in result.invitations:
                    link = url_for("manage.set_password", store=invitation.store_slug,
                                   token=invitation.token, _external=True)
                    click.echo(f"  {invitation.email}  {link}")


def register_cli(app) -> None:
    from . import (
        ledger_cli,  # noqa: F401  (adds its group to CORE_COMMANDS on first import)
        worker,  # noqa: F401  (registers the worker and tick commands)
    )
    from .plugins import get_host

    group = TenantBlindGroup("shopbuilder", help="ShopBuilder administration.")
    for cmd in CORE_COMMANDS:
        group.add_command(cmd)
    from .plugins.cli import plugins_group

    group.add_command(plugins_group)
    for result in get_host(app).app_results("shopbuilder_app_commands"):
        for cmd in result if isinstance(result, list | tuple) else [result]:
            group.add_command(cmd)
    app.cli.add_command(group)
