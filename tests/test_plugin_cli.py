"""``flask shopbuilder plugins ...``: list, enable, disable, policy, new."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from shopbuilder.plugins import PluginMeta
from shopbuilder.testing import plugin_enabled_for, run_cli, set_plugin_policy

tidy = types.ModuleType("tidy")
tidy.meta = PluginMeta(name="tidy", title="Tidy", version="2.3.1")
ancient = types.ModuleType("ancient")
ancient.meta = PluginMeta(name="ancient", title="Ancient", version="0.1", api_max="0.9")


@pytest.fixture
def app_config():
    return {"EXTRA_PLUGINS": [tidy, ancient]}


@pytest.fixture
def runner(app):
    return app


def run(app, *args):
    return run_cli(app, "shopbuilder", "plugins", *args)


def test_list_shows_version_api_range_store_count_and_refused_plugins(app, runner, store):
    run(runner, "enable", "tidy", "--store", store.slug)
    result = run(runner, "list")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("tidy"))
    assert line.split()[:4] == ["tidy", "2.3.1", "1.0-1.99", "ok"]
    assert line.split()[4] == "1"
    assert "refused ancient: supports hook API 1.0..0.9" in result.output


def test_enable_and_disable_for_one_store(app, runner, store, other_store):
    assert "tidy is on for store north." in run(runner, "enable", "tidy", "--store", "north").output
    assert plugin_enabled_for(app, store, "tidy")
    assert not plugin_enabled_for(app, other_store, "tidy")
    run(runner, "disable", "tidy", "--store", "north")
    assert not plugin_enabled_for(app, store, "tidy")


def test_enable_refuses_a_forbidden_plugin_with_a_clear_line(app, runner, chain, store):
    set_plugin_policy(app, chain, "tidy", "forbidden")
    result = run(runner, "enable", "tidy", "--store", "north")
    assert result.exit_code == 1
    assert "HQ policy of tidy is 'forbidden'" in result.output
    assert "Traceback" not in result.output


def test_unknown_plugin_or_store_is_one_clear_line(app, runner, store):
    missing = run(runner, "enable", "nope", "--store", "north").output
    assert "no plugin 'nope' is installed" in missing
    assert "no store 'nowhere'" in run(runner, "enable", "tidy", "--store", "nowhere").output
    assert "was refused at start-up" in run(runner, "enable", "ancient", "--store", "north").output


def test_policy_forced_with_default_and_chain_shortcuts(app, runner, chain, store, other_store):
    result = run(runner, "policy", "tidy", "--chain", chain.slug, "--policy", "allowed",
                 "--default-on")
    assert "tidy is allowed in chain acme, on by default." in result.output
    assert plugin_enabled_for(app, other_store, "tidy")
    run(runner, "disable", "tidy", "--chain", chain.slug)
    assert not plugin_enabled_for(app, store, "tidy")
    run(runner, "enable", "tidy", "--chain", chain.slug)
    assert plugin_enabled_for(app, store, "tidy") and plugin_enabled_for(app, other_store, "tidy")


def test_new_scaffolds_a_package_whose_own_tests_pass(app, runner, tmp_path):
    result = run(runner, "new", "loyalty_stamp", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / "shopbuilder-loyalty-stamp"
    assert "loyalty_stamp = shopbuilder_loyalty_stamp" in (root / "setup.cfg").read_text()
    assert (root / "shopbuilder_loyalty_stamp/migrations/loyalty_stamp_0001_initial.py").exists()
    assert "already exists" in run(runner, "new", "loyalty_stamp", "--dir", str(tmp_path)).output
    bad = run(runner, "new", "Bad-Name", "--dir", str(tmp_path)).output
    assert "not a valid plugin name" in bad
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
