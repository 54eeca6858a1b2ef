"""Which tenant a request belongs to, and the guard that keeps tenants apart.

A request finds its store from, in order: a store's custom domain,
``<slug>.<BASE_DOMAIN>``, then the path prefix ``/s/<slug>/`` (always on).
Host-based requests are rewritten to the path form by :class:`StoreHostMiddleware`
so that one set of routes serves all three, and ``url_for`` strips the prefix
again for them (see :meth:`shopbuilder.app.ShopBuilderFlask.url_for`).

Every ORM query passes through :func:`_scope_tenant_rows`: inside a tenant it
is narrowed with ``with_loader_criteria`` to the tenant's rows (and to the
chain's own stores); with no tenant at all it fails closed, unless the caller
said :func:`unscoped` on purpose (CLI, worker, platform admin).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass, field

from flask import abort, g, has_request_context, render_template, request, session
from sqlalchemy import bindparam, event, or_
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import TableClause

from .extensions import cache, db
from .models import (
    Chain,
    ChainOwned,
    Customer,
    Store,
    StoreOptional,
    StoreOwned,
    StorePlugin,
)
from .plugins.policy import remember_choices

HOST_STORE_KEY = "shopbuilder.host_store"
#: Paths a store's own domain does not rewrite to ``/s/<slug>``.
UNPREFIXED = ("/s/", "/static/", "/api/", "/media/", "/theme-static/")


class TenantScopeMissing(RuntimeError):
    """A tenant-owned table was queried with no tenant chosen: fail closed."""


@dataclass(frozen=True)
class TenantScope:
    chain_id: int | None
    store_id: int | None = None
    #: The scope's loader-criteria options, built once per scope (a request's lifetime):
    #: building one costs more than the query it narrows. Not part of equality.
    options: dict = field(default_factory=dict, compare=False, hash=False, repr=False)


#: The platform's own view: every tenant's rows. Only chosen on purpose.
UNSCOPED = TenantScope(None, None)

_scope_var: contextvars.ContextVar[TenantScope | None] = contextvars.ContextVar(
    "tenant_scope", default=None
)


def current_scope() -> TenantScope | None:
    # Inside a request only what the request chose counts; a scope left in the
    # context by surrounding code (a test, a CLI command) must never leak in.
    if has_request_context():
        return g.get("tenant_scope")
    return _scope_var.get()


def set_request_scope(scope: TenantScope) -> None:
    g.tenant_scope = scope


@contextlib.contextmanager
def scope(new: TenantScope):
    """Run a block (outside a request, or nested in one) under ``new``."""
    if has_request_context():
        previous = g.get("tenant_scope")
        g.tenant_scope = new
        try:
            yield
        finally:
            g.tenant_scope = previous
    else:
        token = _scope_var.set(new)
        try:
            yield
        finally:
            _scope_var.reset(token)


def unscoped():
    """See every tenant's rows: for the CLI, the worker and the platform admin."""
    return scope(UNSCOPED)


def store_scope(store: Store):
    return scope(TenantScope(store.chain_id, store.id))


def chain_scope(chain: Chain):
    return scope(TenantScope(chain.id, None))


# Criteria are memoised for the stores a worker is serving right now; each entry holds
# about 2 KB of SQLAlchemy objects, so the bounds stay small (a worker serving 100,000
# stores must not grow with them; a cold store rebuilds its criteria in microseconds).
CHAIN_CRITERIA_CACHE = 64
STORE_CRITERIA_CACHE = 128


@functools.lru_cache(maxsize=CHAIN_CRITERIA_CACHE)
def _chain_criteria(chain_id: int):
    return with_loader_criteria(
        ChainOwned, lambda cls: cls.chain_id == chain_id, include_aliases=True
    )


@functools.lru_cache(maxsize=STORE_CRITERIA_CACHE)
def _store_criteria(store_id: int):
    return with_loader_criteria(
        StoreOwned, lambda cls: cls.store_id == store_id, include_aliases=True
    )


@functools.lru_cache(maxsize=STORE_CRITERIA_CACHE)
def _store_optional_criteria(store_id: int):
    return with_loader_criteria(
        StoreOptional,
        lambda cls: or_(cls.store_id.is_(None), cls.store_id == store_id),
        include_aliases=True,
    )


@functools.lru_cache(maxsize=CHAIN_CRITERIA_CACHE)
def _chain_stores_criteria(chain_id: int):
    return with_loader_criteria(Store, lambda cls: cls.chain_id == chain_id, include_aliases=True)


#: Execution option that lets one statement see every chain's stores (not their rows).
ANY_CHAIN = "tenant_any_chain_store"


def any_chain(statement):
    """Let ``statement`` see stores of every chain, on purpose.

    For the few lookups that must: finding the tenant of a request by its slug or
    domain, and checking that a new slug or domain is free platform-wide.
    Tenant-owned rows in the same statement stay scoped.
    """
    return statement.execution_options(**{ANY_CHAIN: True})


#: What a table needs filtered: "chain" (ChainOwned), "store" (StoreOwned), "optional"
#: (StoreOptional), "stores" (the store table itself). Keyed by the registry's size, so
#: models a plugin maps later are seen.
_table_kinds: dict[int, dict[str, frozenset[str]]] = {}


def _kinds_by_table() -> dict[str, frozenset[str]]:
    mappers = db.Model.registry.mappers
    kinds = _table_kinds.get(len(mappers))
    if kinds is None:
        kinds = {Store.__tablename__: frozenset({"stores"})}
        for mapper in mappers:
            cls = mapper.class_
            if issubclass(cls, ChainOwned) and mapper.local_table is not None:
                kind = {"chain"}
                if issubclass(cls, StoreOwned):
                    kind.add("store")
                if issubclass(cls, StoreOptional):
                    kind.add("optional")
                kinds[mapper.local_table.name] = frozenset(kind)
        _table_kinds.clear()
        _table_kinds[len(mappers)] = kinds
    return kinds


def tenant_tables_in(statement) -> dict[str, frozenset[str]]:
    """The tenant tables (and the store table) a statement touches, anywhere in it.

    ``state.all_mappers`` only names the entities a statement *returns*, so
    ``select(func.count()).select_from(select(Customer).subquery())`` has none; walking
    the expression finds a table wherever it hides: FROM, joins, subqueries, EXISTS,
    the target of an UPDATE or DELETE.
    """
    kinds = _kinds_by_table()
    found = {}
    for element in visitors.iterate(statement):
        if isinstance(element, TableClause) and element.name in kinds:
            found[element.name] = kinds[element.name]
    return found


_CRITERIA = (
    ("chain", "chain_id", _chain_criteria),
    ("store", "store_id", _store_criteria),
    ("optional", "store_id", _store_optional_criteria),
    ("stores", "chain_id", _chain_stores_criteria),
)


def scope_options(current: TenantScope, kinds=frozenset({"chain", "store", "optional"})):
    """The ``with_loader_criteria`` options ``current`` needs for tables of ``kinds``."""
    options = []
    for kind, attribute, build in _CRITERIA:
        value = getattr(current, attribute)
        if kind in kinds and value is not None:
            option = current.options.get(kind)
            if option is None:
                option = current.options[kind] = build(value)
            options.append(option)
    return options


_ALL_KINDS = frozenset({"chain", "store", "optional", "stores"})


@event.listens_for(Session, "do_orm_execute")
def _scope_tenant_rows(state) -> None:
    """Narrow a statement to the scope's tenant, or refuse it when there is no scope.

    The statement is walked for the tables it touches; the ORM then applies the
    criteria wherever such an entity appears, also in subqueries, EXISTS and
    ``select_from``. Only the criteria a statement needs are added: building one costs
    more than the walk. Core statements on ``Model.__table__`` are not ORM entities and
    get no criteria (writers that use them filter by ``chain_id``/``store_id``
    themselves), but they too fail closed with no scope.
    """
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.execution_options.get("tenant_scope_applied"):
        return
    current = current_scope()
    if current is not None and current.chain_id is None:
        return  # unscoped on purpose
    if current is not None:
        kinds = _ALL_KINDS - {"stores"} if state.execution_options.get(ANY_CHAIN) else _ALL_KINDS
        state.statement = state.statement.options(*scope_options(current, kinds))
        return
    found = tenant_tables_in(state.statement)
    if current is None:
        tenant = sorted(name for name, kind in found.items() if kind != {"stores"})
        if tenant:
            raise TenantScopeMissing(f"query on {', '.join(tenant)} with no tenant scope")
        return
    kinds = frozenset().union(*found.values()) if found else frozenset()
    if state.execution_options.get(ANY_CHAIN):
        kinds -= {"stores"}
    if kinds:
        state.statement = state.statement.options(*scope_options(current, kinds))


# -- finding the store of a request ---------------------------------------------------------


def _host_of(environ) -> str:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host


class StoreHostMiddleware:
    """Serve ``<slug>.<BASE_DOMAIN>`` and custom domains through the ``/s/<slug>`` routes."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        slug = self.store_for_host(_host_of(environ))
        path = environ.get("PATH_INFO", "") or "/"
        if slug and not path.startswith(UNPREFIXED):
            environ[HOST_STORE_KEY] = slug
            environ["PATH_INFO"] = f"/s/{slug}{path}"
        return self.wsgi_app(environ, start_response)

    def store_for_host(self, host: str) -> str | None:
        config = self.app.config
        if host in config["PLATFORM_HOSTS"]:
            return None
        base = config.get("BASE_DOMAIN")
        if base and host.endswith("." + base):
            label = host[: -len(base) - 1]
            return label if "." not in label else None
        if base and host == base:
            return None
        with self.app.app_context():
            return custom_domain_slug(host)


def custom_domain_slug(host: str) -> str | None:
    """The slug of the store whose custom domain is ``host`` (cached, misses too)."""
    key = f"domain:{host}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    slug = db.session.scalar(any_chain(db.select(Store.slug).where(Store.custom_domain == host)))
    cache.set(key, slug or "", timeout=60)
    db.session.remove()
    return slug


def forget_custom_domain(host: str | None) -> None:
    if host:
        cache.delete(f"domain:{host}")


def load_store(slug: str) -> Store:
    """The store (with its chain), its own plugin choices and the signed-in customer.

    One statement instead of three: every store page asks which plugins are on
    (slots, guards, the referral catcher) and who the visitor is, and each
    statement costs a PostgreSQL shop about 0.3 ms. The customer is joined only
    if they belong to the store's chain; the sign-in's user loader then finds
    them in the session. Unscoped: the tenant is what is being looked up, and
    the joins take only the found store's own rows.
    """
    in_request = has_request_context()
    visitor = Customer.id_in(session.get("_user_id")) if in_request else None
    with unscoped():
        rows = db.session.execute(_store_statement(), {"slug": slug, "visitor": visitor}).all()
    if not rows:
        abort(404)
    store = rows[0][0]
    remember_choices(store, {row[1]: bool(row[2]) for row in rows if row[1] is not None})
    if in_request:
        # Held for the request: the session's identity map only keeps a weak reference.
        g.visitor_row = rows[0][3]
    return store


@functools.cache
def _store_statement():
    """Built once: every store request runs it."""
    return (
        db.select(Store, StorePlugin.plugin, StorePlugin.enabled, Customer)
        .outerjoin(StorePlugin, StorePlugin.store_id == Store.id)
        # Flask-Login keeps the account id (``c42``) under ``_user_id``.
        .outerjoin(Customer, (Customer.id == bindparam("visitor"))
                   & (Customer.chain_id == Store.chain_id))
        .where(Store.slug == bindparam("slug"))
    )


def enter_store(slug: str) -> Store:
    """Make ``slug`` the request's store, or answer 404 / 503 (branded)."""
    if "\x00" in slug:  # no slug has one, and PostgreSQL refuses it in a query (a 500)
        abort(404)
    store = load_store(slug)
    g.store = store
    g.chain = store.chain
    set_request_scope(TenantScope(store.chain_id, store.id))
    if store.is_suspended:
        abort(503)
    return store


def enter_chain(slug: str) -> Chain:
    if "\x00" in slug:
        abort(404)
    chain = db.session.scalar(db.select(Chain).where(Chain.slug == slug))
    if chain is None:
        abort(404)
    g.chain = chain
    g.store = None
    set_request_scope(TenantScope(chain.id, None))
    return chain


def init_app(app) -> None:
    app.config.setdefault("PLATFORM_HOSTS", ("localhost", "127.0.0.1", "::1", "[::1]"))
    app.wsgi_app = StoreHostMiddleware(app, app.wsgi_app)

    @app.url_value_preprocessor
    def pick_tenant(endpoint, values):
        if not values:
            return
        if "store" in values:
            enter_store(values.pop("store"))
        elif "chain" in values:
            enter_chain(values.pop("chain"))

    @app.url_defaults
    def add_tenant(endpoint, values):
        if "store" not in values and g.get("store") is not None:
            if app.url_map.is_endpoint_expecting(endpoint, "store"):
                values["store"] = g.store.slug
        if "chain" not in values and g.get("chain") is not None:
            if app.url_map.is_endpoint_expecting(endpoint, "chain"):
                values["chain"] = g.chain.slug

    @app.errorhandler(503)
    def store_closed(error):
        return render_template("errors/closed.html", store=g.get("store")), 503


def strip_host_prefix(url: str) -> str:
    """Turn ``/s/<slug>/x`` back into ``/x`` when the request came on the store's host."""
    if not has_request_context():
        return url
    slug = request.environ.get(HOST_STORE_KEY)
    if not slug:
        return url
    prefix = f"/s/{slug}"
    for start in ("", request.host_url.rstrip("/")):
        head = start + prefix
        if url == head or url.startswith(head + "/") or url.startswith(head + "?"):
            return start + (url[len(head):] or "/")
    return url
