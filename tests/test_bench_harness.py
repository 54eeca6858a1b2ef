"""The benchmark harness records what it needs to and cleans up the servers it starts."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def harness():
    # bench/ is a folder of scripts, not a package: load the module the way its scripts see it.
    spec = importlib.util.spec_from_file_location("harness", BENCH_DIR / "harness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_write_result_records_machine_commit_command_and_data(harness, tmp_path, capsys):
    path = harness.write_result("unit", {"ratio": {"page": 0.5}, "note": "x"}, tmp_path)

    record = json.loads(path.read_text())
    assert path == tmp_path / "unit.json"
    assert record["data"] == {"ratio": {"page": 0.5}, "note": "x"}
    machine = record["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["memory_total_mb"] > 0
    assert machine["cpu_model"]
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert machine["sqlite"].count(".") >= 2
    assert len(record["git"]["commit"]) == 40
    assert isinstance(record["git"]["dirty"], bool)
    assert record["timestamp_utc"].endswith("Z")
    assert record["command"]
    assert "ratio page/baseline: 0.5" in capsys.readouterr().out


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # SO_REUSEADDR as servers set it: lingering TIME_WAIT sockets don't count, a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "gunicorn").exists() and not shutil.which("gunicorn"),
    reason="gunicorn is not installed in this environment",
)
def test_serve_answers_with_hello_world_and_frees_its_port_afterwards(harness):
    with harness.serve(harness.HELLO, workers=1) as url:
        with urllib.request.urlopen(url + "/", timeout=5) as response:
            body = response.read()
        port = urlsplit(url).port
        assert not _port_is_free(port)

    assert body == b"Hello, World!"
    assert _port_is_free(port)
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/", timeout=2)
