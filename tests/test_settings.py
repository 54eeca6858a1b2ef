"""Settings inheritance: chain value, store override, HQ lock."""

from __future__ import annotations

import pytest

from shopbuilder import settings
from shopbuilder.models import Chain, Store

DEFAULTS = {"lead_minutes": 30, "capacity": 10}


def make():
    chain = Chain(slug="c", name="C", settings={})
    store = Store(slug="s", name="S", settings={})
    store.chain = chain
    return chain, store


def test_store_inherits_chain_value_until_it_overrides():
    chain, store = make()
    settings.set_chain_values(chain, "pickup", {"capacity": 20})
    resolved = settings.resolve(store, "pickup", DEFAULTS)
    assert (resolved["capacity"].value, resolved["capacity"].source) == (20, "chain")
    assert (resolved["lead_minutes"].value, resolved["lead_minutes"].source) == (30, "default")
    settings.set_store_values(store, "pickup", {"capacity": 5})
    assert settings.values(store, "pickup", DEFAULTS)["capacity"] == 5
    settings.set_chain_values(chain, "pickup", {"capacity": 40})
    assert settings.values(store, "pickup", DEFAULTS)["capacity"] == 5


def test_hq_change_reaches_stores_that_did_not_override():
    chain, store = make()
    settings.set_chain_values(chain, "pickup", {"capacity": 20})
    settings.set_chain_values(chain, "pickup", {"capacity": 25})
    assert settings.values(store, "pickup", DEFAULTS)["capacity"] == 25


def test_locked_value_wins_and_cannot_be_overridden():
    chain, store = make()
    settings.set_store_values(store, "pickup", {"capacity": 5})
    settings.set_chain_values(chain, "pickup", {"capacity": 12}, locked={"capacity"})
    resolved = settings.resolve(store, "pickup", DEFAULTS)["capacity"]
    assert (resolved.value, resolved.source) == (12, "locked")
    with pytest.raises(settings.SettingLocked):
        settings.set_store_values(store, "pickup", {"capacity": 7})


def test_reset_returns_store_to_chain_value():
    chain, store = make()
    settings.set_chain_values(chain, "pickup", {"capacity": 20})
    settings.set_store_values(store, "pickup", {"capacity": 5})
    settings.reset_store_value(store, "pickup", "capacity")
    assert settings.resolve(store, "pickup", DEFAULTS)["capacity"].source == "chain"


def test_hq_saving_the_default_keeps_no_chain_value_so_a_new_default_arrives():
    chain, store = make()
    settings.save_chain_values(chain, "pickup", {"capacity": 20, "lead_minutes": 30}, DEFAULTS)
    assert settings.chain_values(chain, "pickup") == {"capacity": 20}
    new_defaults = {"lead_minutes": 45, "capacity": 10}
    assert settings.values(store, "pickup", new_defaults) == {"lead_minutes": 45, "capacity": 20}
    # Saving the default again drops a value HQ had set before.
    settings.save_chain_values(chain, "pickup", {"capacity": 10}, DEFAULTS)
    assert settings.chain_values(chain, "pickup") == {}


def test_hq_reset_returns_the_chain_to_the_platform_default_and_keeps_the_lock():
    chain, store = make()
    settings.set_chain_values(chain, "pickup", {"capacity": 20}, locked={"capacity"})
    settings.reset_chain_value(chain, "pickup", "capacity")
    resolved = settings.resolve(store, "pickup", DEFAULTS)["capacity"]
    assert (resolved.value, resolved.source) == (10, "locked")
    assert settings.chain_values(chain, "pickup") == {}
