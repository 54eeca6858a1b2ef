"""Whole-page cache for what anonymous customers browse (home, listings, product, store info).

Most storefront traffic is anonymous people opening a shared link, and the same
product page is drawn again and again. A page is cached only when it is safe: a
GET by a visitor who is not signed in and has nothing of their own in the session
(no flashed message, no guest cart), where every plugin slot that rendered said
its HTML may be kept (``slot_template(cacheable=True)``), answered with a 200.

An entry lives ``CATALOGUE_CACHE_SECONDS`` (60 s), or less when a plugin said the
page changes by itself sooner (:func:`shopbuilder.plugins.page_valid_until`: a
group-buy campaign that starts or ends, a group's deadline): the entry then
expires no later than that moment, and a page whose moment has come is not kept.
Changes made by a write (a member joins, a price changes) renew the page at once
through the version tokens below.

The key names the store, the two version tokens of
:mod:`shopbuilder.services.storefront_catalogue` (replaced after any commit that
touches the store, its chain, or the catalogue and listings it sells, so a price,
stock, theme or plugin change shows on the next request), the visitor's language
choice (``?lang=`` and its cookie; the store's own language is part of the store),
the host (a store's own domain has other URLs) and the path with its query. Never
shared across stores.

A hit is served before the store is even loaded: a slug -> (store, chain) entry,
dropped when the store changes, gives the key. The page is then answered from a
``before_request`` function, so a hit costs a few cache reads and no SQL. (Such a
response has no ``g.store``; it went through no view.)

That early answer skips every other ``before_request`` function, plugins' included.
A plugin that must see a visit even when its page comes from the cache (distribution
binds whoever opens a ``?ref=CODE`` link) names the query parameters that carry it
through ``shopbuilder_app_page_cache_bypass``. A request with one of them takes the
ordinary path: the store is loaded, every ``before_request`` function runs, and the
view's wrapper then serves the cached page (the parameter stays in the key, so no
assumption is made that the page ignores it). It costs loading the store; the page
is drawn once per value (one shared link), then served from the cache.

A CSRF token is per visitor: the cached HTML keeps a placeholder that each
response replaces with the visitor's own token.
"""

from __future__ import annotations

import functools
import math

from flask import current_app, g, make_response, request, session
from flask_wtf.csrf import generate_csrf

from .. import clock
from ..extensions import cache
from ..plugins import PAGE_VALID_UNTIL
from ..services.storefront_catalogue import slug_key, version_tokens_for

CSRF_PLACEHOLDER = "\x00csrf-token\x00"
#: Session keys that do not change what a page shows. Anything else (a guest cart, a
#: flashed message, a signed-in account) means the visitor gets a freshly drawn page.
NEUTRAL_SESSION_KEYS = frozenset({"csrf_token", "_permanent", "_fresh", "_id"})
#: Endpoints whose views are wrapped in :func:`cached_page` (filled by the decorator).
CACHED_ENDPOINTS: set[str] = set()
#: ``app.extensions`` key of the query parameters declared by ``shopbuilder_app_page_cache_bypass``.
BYPASS_PARAMS_KEY = "shopbuilder.page_cache_bypass"


def _cacheable() -> bool:
    # A signed-in visitor has "_user_id" in the session (not a neutral key) or a remember
    # cookie; checking those is much cheaper than loading ``current_user``.
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return (
        request.method == "GET"
        and not current_app.config.get("STOREFRONT_PAGE_CACHE_DISABLED")
        and NEUTRAL_SESSION_KEYS.issuperset(session.keys())
        and remember not in request.cookies
    )


def _bypass_params(app) -> frozenset[str]:
    """The query parameters plugins declared; read once, as the plugins are fixed at start-up."""
    host = app.extensions.get("shopbuilder.plugins")
    if host is None:
        return frozenset()
    names: set[str] = set()
    for result in host.app_results("shopbuilder_app_page_cache_bypass"):
        names.update([result] if isinstance(result, str) else (str(n) for n in result))
    return frozenset(name for name in names if name)


def _plugin_sees_this_visit() -> bool:
    """The request carries a parameter some plugin must see on every visit, even a hit."""
    params = current_app.extensions.get(BYPASS_PARAMS_KEY, frozenset())
    return bool(params) and not params.isdisjoint(request.args.keys())


#: What every cached page's key starts with.
PAGE_KEY_PREFIX = "sf:page:"


def page_key(store_id: int, chain_id: int) -> str:
    return PAGE_KEY_PREFIX + ":".join((
        str(store_id), version_tokens_for(chain_id, store_id),
        request.args.get("lang", ""), request.cookies.get("lang", ""),
        request.host, request.full_path,
    ))


def _timeout() -> int:
    return current_app.config.get("CATALOGUE_CACHE_SECONDS", 60)


def _entry_timeout() -> int:
    """Seconds to keep the page just drawn; 0: do not keep it.

    The usual lifetime, cut to the moment a plugin said the page changes
    (rounded down, so the entry is gone by then). 0 is never passed to the cache,
    where it would mean "for ever".
    """
    seconds = _timeout()
    until = g.get(PAGE_VALID_UNTIL)
    if until is not None:
        seconds = min(seconds, math.floor((until - clock.now()).total_seconds()))
    return max(seconds, 0)


def _respond(html: str):
    if CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, generate_csrf())
    return make_response(html)


def cached_page(view):
    """Serve ``view`` from the page cache when it is safe (see the module docstring)."""
    CACHED_ENDPOINTS.add(f"storefront.{view.__name__}")

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable():
            return view(*args, **kwargs)
        store = g.store
        key = page_key(store.id, store.chain_id)
        html = cache.get(key)
        if html is None:
            g.page_cache_on = True
            g.page_cache_uncacheable = False
            html = view(*args, **kwargs)
            if not isinstance(html, str):  # a redirect or a response built by hand
                return html
            timeout = _entry_timeout()
            if not g.page_cache_uncacheable and timeout > 0:
                cache.set(key, html, timeout=timeout)
                cache.set(slug_key(store.slug), (store.id, store.chain_id), timeout=_timeout())
        return _respond(html)

    return wrapper


def _find_hit(endpoint, values):
    """Before the store is loaded: a cached page for this request, if there is one."""
    if endpoint not in CACHED_ENDPOINTS or not values or "store" not in values:
        return
    if not _cacheable() or _plugin_sees_this_visit():
        return  # the view's wrapper serves the hit, after every before_request function
    ids = cache.get(slug_key(values["store"]))
    if not ids:
        return
    html = cache.get(page_key(ids[0], ids[1]))
    if html is not None:
        values.pop("store")  # nothing left for the tenancy preprocessor to load
        g.page_cache_hit = html


def _serve_hit():
    html = g.pop("page_cache_hit", None)
    if html is not None:
        return _respond(html)


def init_app(app) -> None:
    app.extensions[BYPASS_PARAMS_KEY] = _bypass_params(app)
    # Ahead of the tenancy preprocessor, which loads the store from the database.
    app.url_value_preprocessors.setdefault(None, []).insert(0, _find_hit)
    app.before_request_funcs.setdefault(None, []).insert(0, _serve_hit)


def slot_guard(render_slot):
    """Wrap the ``slot`` template helper: a page where a plugin rendered something is not
    cached, unless the plugin said its HTML may be (``SlotHTML.cacheable``)."""

    def slot(name, **context):
        html = render_slot(name, **context)
        # A plugin may say its HTML depends only on the store (``slot_template(cacheable=)``).
        if html and g.get("page_cache_on") and not getattr(html, "cacheable", False):
            g.page_cache_uncacheable = True
        return html

    return slot


def csrf_token_for_cache():
    return CSRF_PLACEHOLDER if g.get("page_cache_on") else generate_csrf()
