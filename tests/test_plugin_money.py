"""Money hooks for real: payment providers follow enablement, a failing split names its plugin.

The on/off pairs of ``tests/test_plugin_hooks.py`` call the dispatch helpers; these go
through the code a checkout and a settlement actually run
(``payments.providers_for`` → ``all_providers`` + ``is_enabled``;
``ledger.record_settlement`` → ``call_money_hook``).
"""

from __future__ import annotations

import logging

import pytest

from shopbuilder import hookimpl, tenancy
from shopbuilder.extensions import db
from shopbuilder.ledger_testing import LedgerOrder
from shopbuilder.models import Store
from shopbuilder.payments import get_provider, providers_for
from shopbuilder.plugins import PluginMeta
from shopbuilder.services import ledger
from shopbuilder.testing import in_app, set_plugin_enabled, set_plugin_policy


class CashOnPickup:
    code, label, online = "cash_on_pickup", "Cash at pickup", False

    def start(self, order, payment):
        return None

    def refund(self, payment, amount_fen, reason):
        return f"cash-{payment.id}"


class CashPlugin:
    meta = PluginMeta(name="cash", title="Cash", version="1.0")

    @hookimpl
    def shopbuilder_payment_providers(self):
        return [CashOnPickup()]


class BrokenSplits:
    meta = PluginMeta(name="leaky_commission", title="Leaky", version="1.0")

    @hookimpl
    def shopbuilder_settlement_splits(self, order, amount_fen):
        raise RuntimeError("distributor table unavailable")


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [CashPlugin(), BrokenSplits()]}


def codes_for(app, store) -> set[str]:
    with app.test_request_context(), tenancy.unscoped():
        return {p.code for p in providers_for(db.session.get(Store, store.id))}


def test_checkout_offers_a_provider_where_its_plugin_is_on_and_not_where_off(
    app, store, other_store
):
    set_plugin_enabled(app, store, "cash")
    assert "cash_on_pickup" in codes_for(app, store)
    assert "cash_on_pickup" not in codes_for(app, other_store)


def test_a_store_that_turns_a_built_in_provider_off_no_longer_offers_it(app, store, other_store):
    assert {"offline", "sandbox"} <= codes_for(app, store)  # on by default (meta.default_on)
    set_plugin_enabled(app, store, "sandbox", enabled=False)
    assert "sandbox" not in codes_for(app, store) and "offline" in codes_for(app, store)
    assert "sandbox" in codes_for(app, other_store)


def test_a_provider_hq_forbids_is_not_offered_but_still_refunds_its_old_payments(
    app, chain, store
):
    set_plugin_policy(app, chain, "sandbox", "forbidden")
    assert "sandbox" not in codes_for(app, store)
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        assert get_provider("sandbox", row) is None
        assert get_provider("sandbox", row, include_disabled=True) is not None


def test_a_failing_settlement_split_aborts_and_names_the_plugin(app, store, caplog):
    set_plugin_enabled(app, store, "leaky_commission")
    order = LedgerOrder(1, store.chain_id, store.id, "N0001", 10_000, 10_000)
    with in_app(app) as session:
        ledger.record_payment(order, 10_000)
        session.commit()
    with in_app(app) as session, caplog.at_level(logging.ERROR):
        with pytest.raises(ledger.LedgerError) as error:
            ledger.record_settlement(order)
        session.rollback()
    assert "leaky_commission" in str(error.value)
    assert "distributor table unavailable" in str(error.value)
    assert "plugin leaky_commission failed in shopbuilder_settlement_splits" in caplog.text


def test_account_net_sums_one_account_for_one_order_or_all(app, chain, store):
    """The per-order commission a distribution plugin reconciles, without reading rows."""
    with in_app(app) as session:
        for order_id, amount in ((1, 500), (2, 300)):
            ledger.post(chain.id, "test_commission", [
                ("store_payable", -amount, "commission"),
                ("commission:7", amount, "commission"),
            ], order_id=order_id, store_id=store.id)
        ledger.post(chain.id, "test_clawback", [
            ("commission:7", -120, "refund clawback"), ("store_payable", 120, "clawback"),
        ], order_id=1, store_id=store.id)
        session.commit()
    with in_app(app):
        assert ledger.account_net(chain.id, "commission:7", order_id=1) == 380
        assert ledger.account_net(chain.id, "commission:7", order_id=2) == 300
        assert ledger.account_net(chain.id, "commission:7") == 680
        assert ledger.account_net(chain.id, "commission:8") == 0
