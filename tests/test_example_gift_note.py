"""The example third-party plugin, pip-installed as a plugin author would, passes its tests.

``pip install --target`` into a throwaway folder put on ``PYTHONPATH`` of
subprocesses: the real packaging path (setup.cfg, entry point, package data)
without changing the project's environment. Its own tests (slot on in one
store and off in another, settings validation, checkout hooks, ``flask db
upgrade`` creating its table) run with the kit's fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shopbuilder-gift-note"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    # Its templates, static files, migrations and catalogues install with no packaging warning.
    assert "would be ignored" not in result.stderr, result.stderr[-2000:]
    return {**os.environ, "PYTHONPATH": str(target)}


def test_pip_installed_plugin_is_listed_by_the_cli(installed, tmp_path):
    script = textwrap.dedent(f"""
        from shopbuilder import create_app
        from shopbuilder.testing import make_test_config, reset_database, run_cli
        app = create_app(make_test_config("sqlite:///{tmp_path}/x.sqlite3", "{tmp_path}"))
        reset_database(app)
        print(run_cli(app, "shopbuilder", "plugins", "list").output)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        env={**installed, "SHOPBUILDER_INSTANCE_PATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("gift_note"))
    assert line.split()[:4] == ["gift_note", "1.0.0", "1.5-1.99", "ok"]


def test_pip_installed_plugin_passes_its_own_tests(installed):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=600, env=installed,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "11 passed" in result.stdout
