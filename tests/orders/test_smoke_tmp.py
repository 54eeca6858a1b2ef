from order_helpers import load, place, stock_of

from shopbuilder.services import orders


def test_smoke(app, store, customer, variant_id, act, manager):
    oid = place(app, store, customer, variant_id, 2)
    assert load(app, oid)[0] == "pending_payment"
    assert stock_of(app, store, variant_id) == (10, 2)
    act(oid, lambda o: orders.mark_paid(o, "staff:1"))
    assert load(app, oid)[:2] == ("paid", 2560)
    act(oid, lambda o: orders.ship(o, "staff:1", "SF123"))
    assert stock_of(app, store, variant_id) == (8, 0)
    act(oid, lambda o: orders.complete(o, "system"))
    act(oid, lambda o: orders.refund(o, "staff:1", 1000))
    assert load(app, oid) == ("completed", 2560, 1000, "committed")
    act(oid, lambda o: orders.refund(o, "staff:1", restock=True))
    assert load(app, oid) == ("refunded", 2560, 2560, "released")
    assert stock_of(app, store, variant_id) == (10, 0)
