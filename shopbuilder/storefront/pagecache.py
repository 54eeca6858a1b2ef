"""Whole-page cache for what anonymous customers browse (home, listings, product, store info).

Most storefront traffic is anonymous people opening a shared link, and the same
product page is rendered again and again. A page is cached only when it is
safe: a GET by a visitor who is not signed in, with no flashed message, whose
plugins' slots rendered nothing (a group-buy progress bar must stay live), and
with a status of 200. The key names the store, the catalogue version tokens of
:mod:`shopbuilder.services.storefront_catalogue` (so a price or stock change
shows at once), the language, the host (a store's own domain has other URLs),
the full path with its query, and a digest of the store's and chain's settings
(theme, theme settings, enabled plugins). Never shared across stores.

A CSRF token is per visitor: the cached HTML keeps a placeholder that each
response replaces with the visitor's own token.
"""

from __future__ import annotations

import functools
import hashlib
import json

from flask import current_app, g, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..extensions import cache
from ..services.storefront_catalogue import version_tokens

CSRF_PLACEHOLDER = "\x00csrf-token\x00"


def _settings_digest(store) -> str:
    raw = json.dumps([store.settings, store.chain.settings, store.locale, store.chain.locale],
                     sort_keys=True, default=str)
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def _cacheable() -> bool:
    return (
        request.method == "GET"
        and not current_app.config.get("STOREFRONT_PAGE_CACHE_DISABLED")
        and "_flashes" not in session
        and not current_user.is_authenticated
    )


def page_key(store) -> str:
    return "sf:page:" + ":".join((
        str(store.id), version_tokens(store), str(get_locale()), request.host,
        _settings_digest(store), request.full_path,
    ))


def cached_page(view):
    """Serve ``view`` from the page cache when it is safe (see the module docstring)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable():
            return view(*args, **kwargs)
        key = page_key(g.store)
        html = cache.get(key)
        if html is None:
            g.page_cache_on = True
            g.page_cache_uncacheable = False
            html = view(*args, **kwargs)
            if not isinstance(html, str):  # a redirect or a response built by hand
                return html
            if not g.page_cache_uncacheable:
                cache.set(key, html, timeout=current_app.config.get("CATALOGUE_CACHE_SECONDS", 60))
        if CSRF_PLACEHOLDER in html:
            html = html.replace(CSRF_PLACEHOLDER, generate_csrf())
        return make_response(html)

    return wrapper


def slot_guard(render_slot):
    """Wrap the ``slot`` template helper: a page where a plugin rendered something is not cached."""

    def slot(name, **context):
        html = render_slot(name, **context)
        if html and g.get("page_cache_on"):
            g.page_cache_uncacheable = True
        return html

    return slot


def csrf_token_for_cache():
    return CSRF_PLACEHOLDER if g.get("page_cache_on") else generate_csrf()
