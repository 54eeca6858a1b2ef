"""``flask --app wsgi shopbuilder plugins ...``: the plugin author's and operator's commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from ..extensions import db
from ..models import Chain, Store
from . import PluginError, get_host, is_compatible
from .enablement import set_policy, set_store_plugin
from .hookspecs import HOOK_API_VERSION
from .policy import POLICIES, PolicyRefused, count_enabled

# AppGroup: its commands run inside the app context (and the parent's unscoped tenancy).
plugins_group = AppGroup("plugins", help="List, enable, disable and create plugins.")


def _plugin(name: str):
    host = get_host()
    if name not in host.meta:
        reason = host.refused.get(name)
        if reason:
            raise click.ClickException(f"plugin '{name}' was refused at start-up: {reason}")
        raise click.ClickException(f"no plugin '{name}' is installed (see 'plugins list')")
    return host.meta[name]


def _store(slug: str) -> Store:
    store = db.session.scalar(db.select(Store).where(Store.slug == slug))
    if store is None:
        raise click.ClickException(f"no store '{slug}'")
    return store


def _chain(slug: str) -> Chain:
    chain = db.session.scalar(db.select(Chain).where(Chain.slug == slug))
    if chain is None:
        raise click.ClickException(f"no chain '{slug}'")
    return chain


@plugins_group.command("list")
def list_command():
    """Installed plugins, their hook API range, how many stores have each on; refused ones."""
    # Titles may be lazy translations; outside a request the locale selector has nothing
    # to go on, so the CLI speaks English.
    with force_locale("en"):
        _list_plugins()


def _list_plugins():
    host = get_host()
    click.echo(f"Hook API {HOOK_API_VERSION}")
    rows = [("NAME", "VERSION", "HOOK API", "STORES ON", "TITLE")]
    for name in host.names:
        meta = host.meta[name]
        compat = f"{meta.api_min}-{meta.api_max} " + ("ok" if is_compatible(meta) else "NO")
        rows.append((name, meta.version, compat, str(count_enabled(name)), str(meta.title)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                   + "  " + row[4])
    if len(rows) == 1:
        click.echo("(no plugins installed)")
    for name, reason in sorted(host.refused.items()):
        click.echo(f"refused {name}: {reason}")


def _set(name: str, store_slug: str | None, chain_slug: str | None, on: bool) -> None:
    meta = _plugin(name)
    if bool(store_slug) == bool(chain_slug):
        raise click.ClickException("give exactly one of --store SLUG or --chain SLUG")
    try:
        if store_slug:
            store = _store(store_slug)
            changed = set_store_plugin(store, name, on)
            db.session.commit()
            state = "on" if on else "off"
            click.echo(f"{meta.name} is {state} for store {store_slug}"
                       + ("." if changed else " (no change)."))
        else:
            chain = _chain(chain_slug)
            policy = "forced" if on else "forbidden"
            set_policy(chain, name, policy)
            db.session.commit()
            click.echo(f"{meta.name} is {policy} in every store of chain {chain_slug}.")
    except PolicyRefused as exc:
        db.session.rollback()
        raise click.ClickException(
            f"HQ policy of {name} is '{exc}' in this store's chain; change it with "
            f"'plugins policy {name} --chain SLUG --policy allowed'"
        ) from None
    except PluginError as exc:
        db.session.rollback()
        raise click.ClickException(f"plugin {exc.plugin_name} refused: {exc.message}") from None


@plugins_group.command("enable")
@click.argument("name")
@click.option("--store", "store_slug", help="Turn it on for this store (within HQ policy).")
@click.option("--chain", "chain_slug", help="Force it on for every store of this chain.")
def enable_command(name, store_slug, chain_slug):
    """Turn plugin NAME on for a store (or force it on for a chain)."""
    _set(name, store_slug, chain_slug, True)


@plugins_group.command("disable")
@click.argument("name")
@click.option("--store", "store_slug", help="Turn it off for this store; its data is kept.")
@click.option("--chain", "chain_slug", help="Forbid it in every store of this chain.")
def disable_command(name, store_slug, chain_slug):
    """Turn plugin NAME off for a store (or forbid it for a chain)."""
    _set(name, store_slug, chain_slug, False)


@plugins_group.command("policy")
@click.argument("name")
@click.option("--chain", "chain_slug", required=True)
@click.option("--policy", type=click.Choice(POLICIES), required=True)
@click.option("--default-on", is_flag=True, help="Stores that have not chosen start with it on.")
def policy_command(name, chain_slug, policy, default_on):
    """Set HQ's policy for plugin NAME in a chain."""
    _plugin(name)
    chain = _chain(chain_slug)
    try:
        changed = set_policy(chain, name, policy, default_on)
        db.session.commit()
    except PluginError as exc:
        db.session.rollback()
        raise click.ClickException(f"plugin {exc.plugin_name} refused: {exc.message}") from None
    suffix = ", on by default" if default_on and policy == "allowed" else ""
    click.echo(f"{name} is {policy} in chain {chain_slug}{suffix}"
               + (f"; {changed} stores changed state." if changed else "."))


@plugins_group.command("new")
@click.argument("name")
@click.option("--dir", "target", default=".", type=click.Path(file_okay=False),
              help="Folder to create the package in (default: here).")
def new_command(name, target):
    """Create a pip-installable plugin package NAME with a hook, template, form and test."""
    from .scaffold import ScaffoldError, create_plugin

    try:
        root = create_plugin(name, Path(target))
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {root}")
    click.echo(f"Next: pip install -e {root} && flask --app wsgi db upgrade && "
               f"cd {root} && python -m pytest")
