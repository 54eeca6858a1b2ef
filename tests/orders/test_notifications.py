"""Order events reach each plugin on its own; customers hear of what changed, after the commit."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from order_helpers import make_listing, place

from shopbuilder import hookimpl
from shopbuilder.extensions import db
from shopbuilder.models import Order, OrderEvent
from shopbuilder.plugins import PluginMeta
from shopbuilder.services import aftersale, orders
from shopbuilder.testing import in_app, set_plugin_enabled


def note(order, text):
    """A row a plugin writes in reaction to an order event (then commits or not)."""
    db.session.add(OrderEvent(chain_id=order.chain_id, store_id=order.store_id,
                              order_id=order.id, actor="plugin:test", kind="note", reason=text))


class Steady:
    """Writes a note for every paid order and leaves the commit to the core."""

    meta = PluginMeta(name="steady", title="Steady", version="1.0")
    calls: list = []

    @hookimpl
    def shopbuilder_order_paid(self, order):
        Steady.calls.append(order.number)
        note(order, "steady was here")


class Broken:
    """Writes a note, then fails: its note must not survive. Registered last, so called first."""

    meta = PluginMeta(name="broken", title="Broken", version="1.0")

    @hookimpl
    def shopbuilder_order_paid(self, order):
        note(order, "broken was here")
        db.session.flush()
        raise RuntimeError("the loyalty server is down")


class Recorder:
    """A notification channel that keeps what it was asked to send, and what was committed."""

    meta = PluginMeta(name="recorder", title="Recorder", version="1.0")
    sent: list = []

    @hookimpl
    def shopbuilder_notify(self, store, customer, event, context):
        # Read through another connection: only committed rows are visible there.
        with db.engine.connect() as conn:
            state = conn.execute(sa.text('SELECT state FROM "order" WHERE id = :id'),
                                 {"id": context["order_id"]}).scalar()
        Recorder.sent.append((store.slug, customer.id, event, dict(context), state))


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [Steady(), Broken(), Recorder()]}


@pytest.fixture(autouse=True)
def reset():
    Steady.calls.clear()
    Recorder.sent.clear()


def notes(app, order_id):
    with in_app(app):
        return sorted(e.reason for e in db.session.scalars(
            db.select(OrderEvent).where(OrderEvent.order_id == order_id,
                                        OrderEvent.kind == "note")))


def test_a_failing_plugin_neither_stops_the_others_nor_keeps_its_writes(
        app, store, customer, variant_id, act, caplog):
    set_plugin_enabled(app, store, "steady")
    set_plugin_enabled(app, store, "broken")
    order_id = place(app, store, customer, variant_id)
    with caplog.at_level(logging.ERROR, logger="shopbuilder.services.orders"):
        act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    assert len(Steady.calls) == 1
    assert notes(app, order_id) == ["steady was here"]
    assert "plugin broken failed in shopbuilder_order_paid" in caplog.text
    with in_app(app):
        assert db.session.get(Order, order_id).state == "paid"


def test_customer_hears_of_each_change_after_it_is_committed(app, store, customer, variant_id,
                                                             act):
    set_plugin_enabled(app, store, "recorder")
    order_id = place(app, store, customer, variant_id, 2)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    act(order_id, lambda o: orders.ship(o, "staff:1", "SF77"))
    act(order_id, lambda o: orders.complete(o, "system"))
    row = act(order_id, lambda o: aftersale.request(o, customer, "refund", "one was stale",
                                                    amount_fen=1280).id)
    with in_app(app):
        from shopbuilder.models import AfterSaleRequest

        aftersale.approve(db.session.get(AfterSaleRequest, row), "staff:1")
    unpaid = place(app, store, customer, variant_id)
    act(unpaid, lambda o: orders.cancel(o, "system", orders.N_("Not paid in time")))

    assert [(event, state) for _s, _c, event, _ctx, state in Recorder.sent] == [
        ("order_paid", "paid"),
        ("order_shipped", "shipped"),
        ("order_refunded", "completed"),
        ("after_sale_decided", "completed"),
        ("order_cancelled", "cancelled"),
    ]
    slug, customer_id, _event, context, _state = Recorder.sent[1]
    assert (slug, customer_id) == (store.slug, customer.id)
    assert context["tracking_number"] == "SF77"
    assert isinstance(context["order"], Order)
    with in_app(app):
        number = db.session.get(Order, order_id).number
    assert (context["order_number"], context["order_id"], context["total_fen"]) == (
        number, order_id, 2560)
    assert Recorder.sent[2][3]["amount_fen"] == 1280 and Recorder.sent[2][3]["full"] is False
    assert Recorder.sent[3][3]["decision"] == "approved"


def test_a_store_without_the_channel_sends_nothing_through_it(app, chain, store, other_store,
                                                              customer, act):
    set_plugin_enabled(app, store, "recorder")
    south = make_listing(app, chain, other_store, sku="S")
    order_id = place(app, other_store, customer, south)
    act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
    assert Recorder.sent == []


def test_built_in_channel_writes_each_notification_to_the_log(app, store, customer, variant_id,
                                                              act, caplog):
    order_id = place(app, store, customer, variant_id)
    with caplog.at_level(logging.INFO, logger="shopbuilder.notify_log"):
        act(order_id, lambda o: orders.mark_paid(o, "staff:1"))
        act(order_id, lambda o: orders.ship(o, "staff:1", "SF88"))
    with in_app(app):
        number = db.session.get(Order, order_id).number
    lines = [r.getMessage() for r in caplog.records if r.name == "shopbuilder.notify_log"]
    assert lines == [
        f"notify order_paid to customer {customer.id} at {store.slug}: order {number} "
        "(amount ¥12.80)",
        f"notify order_shipped to customer {customer.id} at {store.slug}: order {number} "
        "(tracking_number SF88)",
    ]
