"""Store-scoped hooks reach only the plugins a store enabled; bad plugins are refused."""

from __future__ import annotations

import importlib.metadata
import logging
import types

import pytest
from flask import Blueprint, request
from plugin_samples import recording_plugin

from shopbuilder import create_app, hookimpl, tenancy
from shopbuilder.extensions import db
from shopbuilder.models import Chain, Store
from shopbuilder.plugins import (
    PluginError,
    PluginMeta,
    call_money_hook,
    chain_hook,
    get_host,
    hookspecs,
    render_slot,
    store_hook,
)
from shopbuilder.plugins.hookspecs import MONEY_HOOKS, store_scoped_hook_names
from shopbuilder.testing import make_test_config, set_plugin_enabled, set_plugin_policy

CALLS: list = []
STORE_HOOKS = store_scoped_hook_names()
ALPHA = recording_plugin("alpha", STORE_HOOKS + ["shopbuilder_hq_menu"], CALLS)
BETA = recording_plugin("beta", ["shopbuilder_slot"], CALLS)


@pytest.fixture
def app_config():
    # Only the sample plugins: built-in feature plugins (pickup...) also answer these hooks.
    return {"EXTRA_PLUGINS": [ALPHA, BETA], "PLUGINS_BLOCKED": ("pickup",)}


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()
    yield
    CALLS.clear()


def dispatch(app, store, hook: str):
    """Call ``hook`` for ``store`` the way the core does: slots, money hooks, the rest."""
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        if hook == "shopbuilder_slot":
            return render_slot("product_below_price", store=row, product=None)
        args = {a: object() for a in getattr(get_host().pm.hook, hook).spec.argnames}
        args.pop("store", None)
        if hook in MONEY_HOOKS:
            return call_money_hook(hook, row, **args)
        if "store" in getattr(get_host().pm.hook, hook).spec.argnames:
            args["store"] = row
        return store_hook(hook, row)(**args)


def test_every_hook_has_a_dispatch_scope():
    assert set(STORE_HOOKS) <= set(hookspecs.all_hook_names())
    assert "shopbuilder_slot" in STORE_HOOKS and "shopbuilder_order_paid" in STORE_HOOKS


@pytest.mark.parametrize("hook", STORE_HOOKS)
def test_store_hook_reaches_plugin_enabled_for_that_store(app, store, other_store, hook):
    set_plugin_enabled(app, store, "alpha")
    dispatch(app, store, hook)
    assert ("alpha", hook) in CALLS


@pytest.mark.parametrize("hook", STORE_HOOKS)
def test_store_hook_skips_plugin_not_enabled_for_other_store(app, store, other_store, hook):
    set_plugin_enabled(app, store, "alpha")
    dispatch(app, other_store, hook)
    assert ("alpha", hook) not in CALLS


@pytest.mark.parametrize("hook", STORE_HOOKS)
def test_store_hook_skips_plugin_after_store_turns_it_off(app, store, hook):
    set_plugin_enabled(app, store, "alpha")
    set_plugin_enabled(app, store, "alpha", False)
    dispatch(app, store, hook)
    assert ("alpha", hook) not in CALLS


def test_forced_plugin_reaches_store_that_never_chose(app, chain, store):
    set_plugin_policy(app, chain, "alpha", "forced")
    dispatch(app, store, "shopbuilder_order_paid")
    assert ("alpha", "shopbuilder_order_paid") in CALLS


def test_forbidden_plugin_cannot_be_enabled_and_never_runs(app, chain, store):
    from shopbuilder.plugins.policy import PolicyRefused

    set_plugin_policy(app, chain, "alpha", "forbidden")
    with pytest.raises(PolicyRefused):
        set_plugin_enabled(app, store, "alpha")
    dispatch(app, store, "shopbuilder_order_paid")
    assert CALLS == []


def test_default_on_reaches_stores_that_did_not_choose_but_not_those_that_said_no(
    app, chain, store, other_store
):
    set_plugin_policy(app, chain, "alpha", "allowed", default=True)
    set_plugin_enabled(app, other_store, "alpha", False)
    dispatch(app, store, "shopbuilder_order_paid")
    dispatch(app, other_store, "shopbuilder_order_paid")
    assert CALLS == [("alpha", "shopbuilder_order_paid")]


def test_hq_menu_reaches_plugins_the_chain_has_not_forbidden(app, chain):
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Chain, chain.id)
        # Built-in plugins installed beside the samples add their own entries.
        assert ["alpha"] in chain_hook("shopbuilder_hq_menu", row)(chain=row)
    set_plugin_policy(app, chain, "alpha", "forbidden")
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Chain, chain.id)
        assert ["alpha"] not in chain_hook("shopbuilder_hq_menu", row)(chain=row)


def test_subset_callers_are_shared_by_stores_with_the_same_plugins(app, chain):
    from shopbuilder.testing import make_store

    stores = [make_store(app, chain, f"s{i}") for i in range(6)]
    for s in stores[:3]:
        set_plugin_enabled(app, s, "alpha")
    with app.test_request_context(), tenancy.unscoped():
        callers = {id(store_hook("shopbuilder_order_paid", db.session.get(Store, s.id)))
                   for s in stores}
    assert len(callers) == 2


# -- refusing plugins -------------------------------------------------------------------------


def test_plugin_registered_with_specname_is_refused(app):
    sneaky = types.ModuleType("sneaky")
    sneaky.meta = PluginMeta(name="sneaky", title="Sneaky", version="1.0")

    @hookimpl(specname="shopbuilder_order_paid")
    def on_paid(order):
        raise AssertionError("must never run")

    sneaky.on_paid = on_paid
    host = get_host(app)
    assert host.add(sneaky) is False
    assert "specname" in host.refused["sneaky"]
    assert host.pm.get_plugin("sneaky") is None


def test_plugin_with_a_hook_wrapper_is_refused(app):
    wrapping = types.ModuleType("wrapping_slots")
    wrapping.meta = PluginMeta(name="wrapping_slots", title="Wrapping", version="1.0")

    @hookimpl(wrapper=True)
    def shopbuilder_slot(slot, store, context):
        html = yield
        return html

    wrapping.shopbuilder_slot = shopbuilder_slot
    host = get_host(app)
    assert host.add(wrapping) is False
    assert "wrapper" in host.refused["wrapping_slots"]
    assert host.pm.get_plugin("wrapping_slots") is None


def slot_plugin(name: str, **marker):
    module = types.ModuleType(name)
    module.meta = PluginMeta(name=name, title=name, version="1.0")

    @hookimpl(**marker)
    def shopbuilder_slot(slot, store, context):
        return f"[{name}]"

    module.shopbuilder_slot = shopbuilder_slot
    return module


def test_tryfirst_and_trylast_order_what_a_slot_shows(app, store):
    host = get_host(app)
    for plugin in (slot_plugin("last", trylast=True), slot_plugin("first", tryfirst=True),
                   slot_plugin("plain")):
        assert host.add(plugin)
        set_plugin_enabled(app, store, plugin.meta.name)
    set_plugin_enabled(app, store, "beta")
    with app.test_request_context(), tenancy.unscoped():
        html = str(render_slot("product_below_price", store=db.session.get(Store, store.id)))
    assert html.startswith("[first]") and html.endswith("[last]")


def make_entry_point(name: str, value: str):
    return importlib.metadata.EntryPoint(name=name, value=value, group="shopbuilder.plugins")


def test_broken_and_incompatible_plugins_are_refused_and_the_shop_still_starts(
    tmp_path, monkeypatch, caplog
):
    old = types.ModuleType("old_plugin")
    old.meta = PluginMeta(name="old", title="Old", version="0.1", api_min="0.1", api_max="0.9")
    monkeypatch.setattr(
        "shopbuilder.plugins.entry_points",
        lambda group: [make_entry_point("broken", "no_such_module_for_shopbuilder")],
    )
    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path))
    caplog.set_level(logging.ERROR, logger="shopbuilder.plugins")
    app = create_app(make_test_config(
        "sqlite:///" + str(tmp_path / "db.sqlite3"), str(tmp_path), EXTRA_PLUGINS=[old]
    ))
    host = get_host(app)
    assert set(host.refused) == {"broken", "old"}
    assert "import failed" in host.refused["broken"]
    assert "hook API 0.1..0.9" in host.refused["old"]
    assert "plugin broken refused" in caplog.text and "plugin old refused" in caplog.text
    assert app.test_client().get("/").status_code in (200, 302, 404)


# -- fault isolation --------------------------------------------------------------------------


def failing_plugin(name: str):
    module = types.ModuleType(name)
    module.meta = PluginMeta(name=name, title=name.title(), version="1.0")

    @hookimpl
    def shopbuilder_slot(slot):
        raise RuntimeError("template exploded")

    @hookimpl
    def shopbuilder_checkout_validate(store, cart, checkout):
        raise RuntimeError("coupon service down")

    module.shopbuilder_slot = shopbuilder_slot
    module.shopbuilder_checkout_validate = shopbuilder_checkout_validate
    return module


def test_failing_slot_is_logged_with_plugin_name_and_renders_empty(app, store, caplog):
    get_host(app).add(failing_plugin("wobbly"))
    set_plugin_enabled(app, store, "wobbly")
    set_plugin_enabled(app, store, "beta")
    with app.test_request_context(), tenancy.unscoped():
        html = render_slot("product_below_price", store=db.session.get(Store, store.id))
    assert str(html) == "[beta]"
    assert "plugin wobbly failed in slot product_below_price" in caplog.text


def test_failing_money_hook_raises_plugin_error_naming_the_plugin(app, store):
    get_host(app).add(failing_plugin("wobbly"))
    set_plugin_enabled(app, store, "wobbly")
    with app.test_request_context(), tenancy.unscoped():
        with pytest.raises(PluginError) as error:
            call_money_hook(
                "shopbuilder_checkout_validate", db.session.get(Store, store.id),
                cart=None, checkout={},
            )
    assert error.value.plugin_name == "wobbly"
    assert "coupon service down" in str(error.value)


# -- life cycle, pages, files -----------------------------------------------------------------

EVENTS: list = []
pages = types.ModuleType("pages_plugin")
pages.meta = PluginMeta(name="pages", title="Pages", version="1.0")
pages_bp = Blueprint("pages_plugin", __name__, url_prefix="/s/<store>/pages-plugin")


@pages_bp.get("/")
def pages_home():
    return "pages plugin home"


@hookimpl
def _blueprints(app):
    return [pages_bp]


@hookimpl
def _enabled(store):
    EVENTS.append(("enabled", store.slug))


@hookimpl
def _disabled(store):
    EVENTS.append(("disabled", store.slug))


@hookimpl
def _static_folder():
    return str(__import__("pathlib").Path(__file__).parent / "plugin_static")


pages.shopbuilder_app_blueprints = _blueprints
pages.shopbuilder_store_enabled = _enabled
pages.shopbuilder_store_disabled = _disabled
pages.shopbuilder_app_static_folder = _static_folder


@pytest.fixture
def pages_app(db_url, tmp_path, monkeypatch):
    from shopbuilder.testing import reset_database

    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path / "i"))
    application = create_app(make_test_config(db_url, str(tmp_path / "i"), EXTRA_PLUGINS=[pages]))
    reset_database(application)
    EVENTS.clear()
    return application


def test_disabled_plugin_pages_answer_404_in_that_store_only(pages_app):
    from shopbuilder.testing import make_chain, make_store

    chain = make_chain(pages_app)
    north, _south = make_store(pages_app, chain, "north"), make_store(pages_app, chain, "south")
    set_plugin_enabled(pages_app, north, "pages")
    client = pages_app.test_client()
    assert client.get("/s/north/pages-plugin/").status_code == 200
    assert client.get("/s/south/pages-plugin/").status_code == 404
    set_plugin_enabled(pages_app, north, "pages", False)
    assert client.get("/s/north/pages-plugin/").status_code == 404
    set_plugin_enabled(pages_app, north, "pages")
    assert client.get("/s/north/pages-plugin/").get_data(as_text=True) == "pages plugin home"


def test_enabling_and_disabling_call_that_plugins_callbacks_once(pages_app):
    from shopbuilder.testing import make_chain, make_store

    chain = make_chain(pages_app)
    north = make_store(pages_app, chain, "north")
    set_plugin_enabled(pages_app, north, "pages")
    set_plugin_enabled(pages_app, north, "pages")
    set_plugin_enabled(pages_app, north, "pages", False)
    assert EVENTS == [("enabled", "north"), ("disabled", "north")]


def test_forcing_a_plugin_calls_enabled_for_each_store_that_changes(pages_app):
    from shopbuilder.testing import make_chain, make_store

    chain = make_chain(pages_app)
    north, _south = make_store(pages_app, chain, "north"), make_store(pages_app, chain, "south")
    set_plugin_enabled(pages_app, north, "pages")
    EVENTS.clear()
    set_plugin_policy(pages_app, chain, "pages", "forced")
    assert EVENTS == [("enabled", "south")]


def test_plugin_static_files_are_served_under_static_plugins(pages_app):
    response = pages_app.test_client().get("/static/plugins/pages/hello.txt")
    assert response.status_code == 200 and b"hello from a plugin" in response.data
    assert pages_app.test_client().get("/static/plugins/nobody/hello.txt").status_code == 404


def test_plugin_marked_default_on_is_on_until_hq_or_the_store_says_otherwise(
    app, chain, store, other_store
):
    counter = types.ModuleType("counter")
    counter.meta = PluginMeta(name="counter", title="Counter", version="1.0", default_on=True)
    get_host(app).add(counter)
    from shopbuilder.testing import plugin_enabled_for

    assert plugin_enabled_for(app, store, "counter")
    set_plugin_enabled(app, other_store, "counter", False)
    assert not plugin_enabled_for(app, other_store, "counter")
    set_plugin_policy(app, chain, "counter", "allowed", default=False)
    assert not plugin_enabled_for(app, store, "counter")


def test_failing_app_setup_hooks_are_skipped_and_the_shop_starts(tmp_path, monkeypatch, caplog):
    clumsy = types.ModuleType("clumsy")
    clumsy.meta = PluginMeta(name="clumsy", title="Clumsy", version="1.0")

    def explode(*args, **kwargs):
        raise RuntimeError("setup exploded")

    for hook in hookspecs.APP_HOOKS:
        argnames = "app" if hook.endswith("blueprints") else ""
        namespace = {"explode": explode}
        exec(f"def {hook}({argnames}):\n    explode()\n", namespace)
        setattr(clumsy, hook, hookimpl(namespace[hook]))
    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path))
    app = create_app(make_test_config(
        "sqlite:///" + str(tmp_path / "db.sqlite3"), str(tmp_path), EXTRA_PLUGINS=[clumsy]
    ))
    assert "clumsy" in get_host(app).meta
    assert "plugin clumsy failed in shopbuilder_app_commands" in caplog.text
    assert app.test_client().get("/static/plugins/clumsy/x.css").status_code == 404


def test_slot_says_whether_a_page_cache_may_keep_it(app, store):
    from markupsafe import Markup

    from shopbuilder.plugins import SlotHTML

    steady = types.ModuleType("steady")
    steady.meta = PluginMeta(name="steady", title="Steady", version="1.0")

    @hookimpl
    def shopbuilder_slot(slot):
        html = SlotHTML(Markup("<b>steady</b>"))
        html.cacheable = True
        return html

    steady.shopbuilder_slot = shopbuilder_slot
    get_host(app).add(steady)
    set_plugin_enabled(app, store, "steady")
    with app.test_request_context(), tenancy.unscoped():
        row = db.session.get(Store, store.id)
        html = render_slot("product_below_price", store=row)
        assert str(html) == "<b>steady</b>" and html.cacheable
    set_plugin_enabled(app, store, "beta")  # its slot returns plain text: live, not cacheable
    with app.test_request_context(), tenancy.unscoped():
        html = render_slot("product_below_price", store=db.session.get(Store, store.id))
        assert "[beta]" in str(html) and not html.cacheable


# -- the page cache lets a plugin see visits that carry its parameters ----------------------

VISITS: list = []
visits = types.ModuleType("visits_plugin")
visits.meta = PluginMeta(name="visits", title="Visits", version="1.0")
visits_bp = Blueprint("visits_plugin", __name__)


@visits_bp.before_app_request
def _count_visit():
    if request.path.startswith("/s/"):
        VISITS.append(request.full_path)


@hookimpl
def _visits_blueprints(app):
    return [visits_bp]


@hookimpl
def _visits_bypass():
    return ["visit"]


visits.shopbuilder_app_blueprints = _visits_blueprints
visits.shopbuilder_app_page_cache_bypass = _visits_bypass


@pytest.fixture
def visits_app(db_url, tmp_path, monkeypatch):
    from shopbuilder.testing import make_chain, make_store, reset_database

    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path / "v"))
    application = create_app(make_test_config(db_url, str(tmp_path / "v"),
                                              EXTRA_PLUGINS=[visits]))
    reset_database(application)
    make_store(application, make_chain(application), "north")
    VISITS.clear()
    yield application
    VISITS.clear()


def pages_drawn(app, client, url):
    """``(response, templates rendered)`` for one request."""
    from flask import template_rendered

    drawn = []

    def record(sender, template, context, **extra):
        drawn.append(template.name)

    with template_rendered.connected_to(record, app):
        response = client.get(url)
    return response, drawn


def test_page_cache_hit_with_a_declared_parameter_still_runs_the_plugins_request_code(
        visits_app):
    client = visits_app.test_client()
    assert client.get("/s/north/?visit=A").status_code == 200  # drawn and cached
    response, drawn = pages_drawn(visits_app, visits_app.test_client(), "/s/north/?visit=A")
    assert response.status_code == 200 and drawn == []  # served from the cache...
    assert VISITS == ["/s/north/?visit=A", "/s/north/?visit=A"]  # ...and the plugin saw it


def test_page_cache_hit_without_a_declared_parameter_skips_the_plugins_request_code(
        visits_app):
    client = visits_app.test_client()
    assert client.get("/s/north/?other=A").status_code == 200
    response, drawn = pages_drawn(visits_app, visits_app.test_client(), "/s/north/?other=A")
    assert response.status_code == 200 and drawn == []
    assert VISITS == ["/s/north/?other=A"]  # the early answer ran no request code
