"""Three levels of plugin policy: the platform installs, HQ rules, the store chooses.

HQ's policy per plugin lives in ``chain.settings["plugins"][name]``:
``{"policy": "forbidden" | "allowed" | "forced", "default": bool}``; a plugin
HQ never mentioned is allowed, and off unless its ``meta.default_on`` says on.
A chain has few plugins and is loaded with every store, so its JSON costs
nothing per request.

A store's own choice is a :class:`~shopbuilder.models.StorePlugin` row and
only counts when HQ allows the plugin; a store with no row follows the chain's
default. Nothing is written per store when HQ changes a policy or a default,
so a chain of 100,000 stores changes in one write.
"""

from __future__ import annotations

from flask import g, has_app_context, has_request_context
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Store, StorePlugin

POLICIES = ("forbidden", "allowed", "forced")


class PolicyRefused(Exception):
    """A store asked for something HQ's policy does not allow."""


def _plugin_default(name: str) -> bool:
    if not has_app_context():
        return False
    from . import get_host

    meta = get_host().meta.get(name)
    return bool(meta is not None and meta.default_on)


def chain_policy(chain, name: str) -> dict:
    """HQ's rule for ``name``; a plugin HQ never mentioned is allowed, with its own default."""
    rule = (chain.settings or {}).get("plugins", {}).get(name)
    if rule is None:
        return {"policy": "allowed", "default": _plugin_default(name)}
    return {"policy": rule.get("policy", "allowed"), "default": bool(rule.get("default", False))}


def set_chain_policy(chain, name: str, policy: str, default: bool = False) -> None:
    """Record HQ's rule (a new dict, so SQLAlchemy sees the JSON change)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    settings = dict(chain.settings or {})
    plugins = dict(settings.get("plugins", {}))
    plugins[name] = {"policy": policy, "default": bool(default)}
    settings["plugins"] = plugins
    chain.settings = settings


def store_choices(store) -> dict[str, bool]:
    """The store's own on/off choices, read once per request (one indexed query).

    The request's own store comes with them (``tenancy.load_store``).
    """
    memo = g.setdefault("_plugin_choices", {}) if has_request_context() else None
    if memo is not None and store.id in memo:
        return memo[store.id]
    rows = db.session.execute(
        db.select(StorePlugin.plugin, StorePlugin.enabled).where(
            StorePlugin.store_id == store.id
        )
    )
    choices = {name: bool(enabled) for name, enabled in rows}
    remember_choices(store, choices)
    return choices


def remember_choices(store, choices: dict[str, bool]) -> None:
    """Keep ``store``'s choices, read with the store, for the rest of the request."""
    if has_request_context():
        g.setdefault("_plugin_choices", {})[store.id] = choices


def forget_choices(store) -> None:
    from . import forget_enablement

    if has_request_context():
        g.setdefault("_plugin_choices", {}).pop(store.id, None)
        forget_enablement(store)


def decide(rule: dict, choice: bool | None) -> bool:
    if rule["policy"] == "forbidden":
        return False
    if rule["policy"] == "forced":
        return True
    return rule["default"] if choice is None else choice


def is_enabled(store, name: str, choices: dict | None = None) -> bool:
    choices = store_choices(store) if choices is None else choices
    return decide(chain_policy(store.chain, name), choices.get(name))


def enabled_plugins(store, installed, choices: dict | None = None) -> frozenset[str]:
    choices = store_choices(store) if choices is None else choices
    chain = store.chain
    return frozenset(n for n in installed if decide(chain_policy(chain, n), choices.get(n)))


def set_store_choice(store, name: str, enabled: bool) -> None:
    """Record the store's own choice (insert or update its row); HQ policy is checked."""
    rule = chain_policy(store.chain, name)
    if rule["policy"] == "forbidden" and enabled:
        raise PolicyRefused("forbidden")
    if rule["policy"] == "forced" and not enabled:
        raise PolicyRefused("forced")
    row = db.session.scalar(
        db.select(StorePlugin).where(StorePlugin.store_id == store.id, StorePlugin.plugin == name)
    )
    if row is None:
        try:
            # A savepoint: two managers saving at once must not fail the request.
            with db.session.begin_nested():
                db.session.add(StorePlugin(
                    chain_id=store.chain_id, store_id=store.id, plugin=name, enabled=enabled
                ))
        except IntegrityError:
            row = db.session.scalar(
                db.select(StorePlugin).where(
                    StorePlugin.store_id == store.id, StorePlugin.plugin == name
                )
            )
    if row is not None:
        row.enabled = bool(enabled)
    db.session.flush()
    forget_choices(store)


def count_enabled(name: str, chain_id: int | None = None) -> int:
    """How many stores have ``name`` on: two grouped queries, whatever the number of stores."""
    from ..models import Chain

    chain_stmt = db.select(Chain)
    store_stmt = db.select(Store.chain_id, func.count(Store.id)).group_by(Store.chain_id)
    choice_stmt = (
        db.select(StorePlugin.chain_id, StorePlugin.enabled, func.count(StorePlugin.id))
        .where(StorePlugin.plugin == name)
        .group_by(StorePlugin.chain_id, StorePlugin.enabled)
    )
    if chain_id is not None:
        chain_stmt = chain_stmt.where(Chain.id == chain_id)
        store_stmt = store_stmt.where(Store.chain_id == chain_id)
        choice_stmt = choice_stmt.where(StorePlugin.chain_id == chain_id)
    stores = dict(db.session.execute(store_stmt).all())
    choices: dict[tuple[int, bool], int] = {
        (cid, bool(on)): n for cid, on, n in db.session.execute(choice_stmt)
    }
    total = 0
    for chain in db.session.scalars(chain_stmt):
        rule = chain_policy(chain, name)
        in_chain = stores.get(chain.id, 0)
        if rule["policy"] == "forced":
            total += in_chain
        elif rule["policy"] == "allowed":
            if rule["default"]:
                total += in_chain - choices.get((chain.id, False), 0)
            else:
                total += choices.get((chain.id, True), 0)
    return total
