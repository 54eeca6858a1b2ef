"""``examples/api_client.py`` buys and pays against a live server with the demo data."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

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


def test_example_client_signs_in_buys_and_pays_with_the_sandbox(live_server):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--base", live_server, "--chain", "mingcha",
         "--lat", "30.2085", "--lng", "120.2111"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "store: 茗茶 滨江店 (riverside)" in out
    assert "signed in as 王小明" in out
    assert "payment: succeeded; order state: paid" in out or "order state: ready_for_pickup" in out
