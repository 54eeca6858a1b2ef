"""Three levels of plugin policy: the platform installs, HQ rules, the store chooses.

HQ's policy per plugin lives in ``chain.settings["plugins"][name]``:
``{"policy": "forbidden" | "allowed" | "forced", "default": bool}``; a plugin
HQ never mentioned is allowed and off. A store's choice lives in
``store.settings["plugins"][name]`` (True/False) and only counts when allowed.
"""

from __future__ import annotations

POLICIES = ("forbidden", "allowed", "forced")


def chain_policy(chain, name: str) -> dict:
    rule = (chain.settings or {}).get("plugins", {}).get(name, {})
    return {"policy": rule.get("policy", "allowed"), "default": bool(rule.get("default", False))}


def is_enabled(store, name: str) -> bool:
    rule = chain_policy(store.chain, name)
    if rule["policy"] == "forbidden":
        return False
    if rule["policy"] == "forced":
        return True
    choice = (store.settings or {}).get("plugins", {}).get(name)
    return rule["default"] if choice is None else bool(choice)


def enabled_plugins(store, installed) -> frozenset[str]:
    return frozenset(name for name in installed if is_enabled(store, name))


def set_store_choice(store, name: str, enabled: bool) -> None:
    """Record a store's own choice (a new dict, so SQLAlchemy sees the JSON change)."""
    settings = dict(store.settings or {})
    plugins = dict(settings.get("plugins", {}))
    plugins[name] = bool(enabled)
    settings["plugins"] = plugins
    store.settings = settings
