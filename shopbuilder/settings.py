"""Settings that inherit: platform default -> chain value -> store override, with HQ locks.

One rule serves plugin settings, theme settings and deadlines. A namespace
(``"plugin:pickup"``, ``"theme"``, ``"deadlines"``) keeps, in ``chain.settings``,
``{"values": {...}, "locked": [...]}`` and, in ``store.settings``, only the keys
the store overrode. Nothing is copied to stores: an HQ change reaches every
store that has not overridden the key, and a lock wins over any override.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SettingLocked(Exception):
    """A store tried to change a value HQ has locked."""


@dataclass(frozen=True)
class Resolved:
    key: str
    value: Any
    #: ``default`` (platform), ``chain`` (inherited from HQ), ``store`` (overridden), ``locked``.
    source: str

    @property
    def inherited(self) -> bool:
        return self.source in ("default", "chain")


def _chain_part(chain, namespace: str) -> dict:
    return (chain.settings or {}).get(namespace, {})


def _store_part(store, namespace: str) -> dict:
    return (store.settings or {}).get(namespace, {})


def chain_values(chain, namespace: str) -> dict:
    return dict(_chain_part(chain, namespace).get("values", {}))


def locked_keys(chain, namespace: str) -> frozenset[str]:
    return frozenset(_chain_part(chain, namespace).get("locked", ()))


def store_overrides(store, namespace: str) -> dict:
    return dict(_store_part(store, namespace))


def resolve(store, namespace: str, defaults: dict) -> dict[str, Resolved]:
    """Every key of ``defaults`` with its effective value for ``store`` and where it came from."""
    chain = store.chain
    from_chain = chain_values(chain, namespace)
    locks = locked_keys(chain, namespace)
    overrides = store_overrides(store, namespace)
    result = {}
    for key, default in defaults.items():
        if key in locks:
            result[key] = Resolved(key, from_chain.get(key, default), "locked")
        elif key in overrides:
            result[key] = Resolved(key, overrides[key], "store")
        elif key in from_chain:
            result[key] = Resolved(key, from_chain[key], "chain")
        else:
            result[key] = Resolved(key, default, "default")
    return result


def values(store, namespace: str, defaults: dict) -> dict:
    return {key: r.value for key, r in resolve(store, namespace, defaults).items()}


def chain_resolve(chain, namespace: str, defaults: dict) -> dict:
    """The values HQ sees for the chain (its own value or the platform default)."""
    from_chain = chain_values(chain, namespace)
    return {key: from_chain.get(key, default) for key, default in defaults.items()}


def _replace(owner, namespace: str, part: dict) -> None:
    # Assign a new dict: SQLAlchemy only notices a JSON column that is replaced.
    settings = dict(owner.settings or {})
    settings[namespace] = part
    owner.settings = settings


def set_chain_values(chain, namespace: str, new_values: dict, locked=None) -> None:
    part = dict(_chain_part(chain, namespace))
    part["values"] = {**part.get("values", {}), **new_values}
    if locked is not None:
        part["locked"] = sorted(locked)
    _replace(chain, namespace, part)


def save_chain_values(chain, namespace: str, new_values: dict, defaults: dict,
                      locked=None) -> None:
    """HQ saved a settings form: keep as chain values only those that differ from the default.

    A key saved with the platform default's value is dropped from the chain, so the
    chain follows the platform: a later change of the default reaches it. (Storing
    every field of the form, as :func:`set_chain_values` would, pins them all.)
    """
    part = dict(_chain_part(chain, namespace))
    stored = dict(part.get("values", {}))
    for key, value in new_values.items():
        if key in defaults and value == defaults[key]:
            stored.pop(key, None)
        else:
            stored[key] = value
    part["values"] = stored
    if locked is not None:
        part["locked"] = sorted(locked)
    _replace(chain, namespace, part)


def reset_chain_value(chain, namespace: str, key: str) -> None:
    """Drop HQ's value of ``key`` so the platform default applies to the chain again.

    A lock on the key stays: locked, every store then takes the platform default.
    """
    part = dict(_chain_part(chain, namespace))
    stored = dict(part.get("values", {}))
    stored.pop(key, None)
    part["values"] = stored
    _replace(chain, namespace, part)


def replace_chain_values(chain, namespace: str, new_values: dict, locked) -> None:
    """HQ's whole set of values and locks for ``namespace``: keys left out inherit the
    platform default again (``set_chain_values`` only adds and changes keys)."""
    _replace(chain, namespace, {"values": dict(new_values), "locked": sorted(locked)})


def set_store_values(store, namespace: str, new_values: dict) -> None:
    """Override keys for one store; a locked key raises :class:`SettingLocked`."""
    locks = locked_keys(store.chain, namespace) & set(new_values)
    if locks:
        raise SettingLocked(", ".join(sorted(locks)))
    part = {**_store_part(store, namespace), **new_values}
    _replace(store, namespace, part)


def reset_store_value(store, namespace: str, key: str) -> None:
    """Drop the store's override so the chain's value applies again."""
    part = dict(_store_part(store, namespace))
    part.pop(key, None)
    _replace(store, namespace, part)
