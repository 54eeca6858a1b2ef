"""``examples/api_client.py`` buys and pays against a live server with the demo data."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from shopbuilder.models import Order, Store
from shopbuilder.services import orders
from shopbuilder.testing import in_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "api_client.py"


@pytest.fixture
def app_config():
    # As in production: the hosted payment page checks its CSRF token.
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_server(app, demo):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def prepare_when_paid(app, stop: threading.Event) -> None:
    """The clerk's part: mark the customer's paid pickup order prepared."""
    while not stop.wait(0.5):
        with in_app(app) as session:
            order = session.scalar(select(Order).join(Store).where(
                Store.slug == "riverside", Order.fulfilment_code == "pickup",
                Order.state == "paid"))
            if order is not None:
                orders.mark_ready(order, actor="clerk@riverside")
                return


def test_example_client_buys_for_pickup_pays_and_prints_the_pickup_code(app, live_server):
    stop = threading.Event()
    clerk = threading.Thread(target=prepare_when_paid, args=(app, stop), daemon=True)
    clerk.start()
    try:
        result = subprocess.run(
            [sys.executable, str(EXAMPLE), "--base", live_server, "--chain", "mingcha",
             "--lat", "30.2085", "--lng", "120.2111", "--wait-for-code", "60"],
            capture_output=True, text=True, timeout=180,
        )
    finally:
        stop.set()
        clerk.join(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "store: 茗茶 滨江店 (riverside)" in out
    assert "signed in as 王小明" in out
    assert "placed (pickup)" in out
    # The clerk's thread may prepare the order before the client reads it back.
    assert re.search(r"payment: succeeded; order state: (paid|ready_for_pickup)\n", out), out
    assert re.search(r"pickup code: \d{4} ?\d{4} ?\d{4}", out) or re.search(
        r"pickup code: \d{12}", out), out
