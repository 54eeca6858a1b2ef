"""Pytest fixtures for ShopBuilder and its plugins (registered as the ``pytest11`` plugin).

Fixtures hand out ORM objects that are already loaded and detached, and never
keep an application context pushed while a test runs: Flask's test client
would reuse it, sharing ``g`` (and the signed-in user) across requests. Do
database work in ``with app.app_context(), unscoped():`` blocks, or through
:func:`in_app`.

The database is SQLite in a temporary folder. Tests that take the ``db_url``
fixture's PostgreSQL parameter run against ``SHOPBUILDER_TEST_DATABASE_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); they skip when
no server answers, unless the variable was set explicitly, which makes an
absent server a failure (CI sets it).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import re
from collections.abc import Callable

import email_validator
import pytest
import sqlalchemy as sa

from . import create_app, tenancy
from .extensions import babel as _babel
from .extensions import db as _db
from .models import Chain, Customer, StaffRole, Store, User

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "secret-pass-1"
CHEAP_PASSWORD_METHOD = "pbkdf2:sha256:1000"

# Test accounts use the reserved ".test" domain, which email-validator refuses by default.
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


def postgres_url() -> str | None:
    """A reachable PostgreSQL URL, None when absent (an error when CI named one)."""
    explicit = os.environ.get("SHOPBUILDER_TEST_DATABASE_URL")
    url = explicit or DEFAULT_PG_URL
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        if explicit:
            raise RuntimeError(
                f"SHOPBUILDER_TEST_DATABASE_URL={explicit} is unreachable: {exc}"
            ) from exc
        return None
    return url


_pg_checked: list = []


def require_postgres() -> str:
    if not _pg_checked:
        _pg_checked.append(postgres_url())
    url = _pg_checked[0]
    if url is None:
        pytest.skip(
            "PostgreSQL is not reachable at 127.0.0.1:5432 (set SHOPBUILDER_TEST_DATABASE_URL)"
        )
    return url


def make_test_config(database_url: str, instance_path: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": CHEAP_PASSWORD_METHOD,
        "MEDIA_FOLDER": os.path.join(instance_path, "media"),
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


def reset_database(app) -> None:
    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            with _db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        _db.create_all()


@pytest.fixture(params=["sqlite"])
def db_url(request, tmp_path):
    """The database URL for ``app``; parametrize with "postgresql" to run on both."""
    if request.param == "postgresql":
        return require_postgres()
    return "sqlite:///" + str(tmp_path / "shop.sqlite3")


@pytest.fixture
def app_config():
    """Extra configuration for ``app``; override in a test module to change it."""
    return {}


@pytest.fixture
def app(db_url, tmp_path, app_config, monkeypatch):
    monkeypatch.setenv("SHOPBUILDER_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(make_test_config(db_url, str(tmp_path / "instance"), **app_config))
    # Flask-Babel keeps merged catalogues per locale in one process-wide cache: without
    # this, the first test app's plugins (their translations) would serve every later app.
    with application.app_context():
        _babel.domain_instance.cache.clear()
    reset_database(application)
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@contextlib.contextmanager
def in_app(app):
    """An application context that sees every tenant, for arranging and checking data."""
    with app.app_context(), tenancy.unscoped():
        yield _db.session
        _db.session.remove()


def detach(*objects):
    """Commit, load every column, and detach: safe to read after the context ends."""
    _db.session.commit()
    for obj in objects:
        _db.session.refresh(obj)
        _db.session.expunge(obj)
    return objects[0] if len(objects) == 1 else objects


def make_chain(app, slug="acme", name="Acme Tea", **fields) -> Chain:
    with in_app(app):
        chain = Chain(slug=slug, name=name, **fields)
        _db.session.add(chain)
        return detach(chain)


def make_store(app, chain, slug, name=None, **fields) -> Store:
    with in_app(app):
        store = Store(chain_id=chain.id, slug=slug, name=name or slug.title(), **fields)
        _db.session.add(store)
        return detach(store)


def make_staff(app, email, chain=None, store=None, role=None, admin=False) -> User:
    with in_app(app):
        user = User(email=email, name=email.split("@")[0], is_platform_admin=admin)
        user.set_password(PASSWORD)
        _db.session.add(user)
        _db.session.flush()
        if role:
            _db.session.add(StaffRole(
                user_id=user.id, chain_id=chain.id, role=role,
                store_id=store.id if store is not None else None,
            ))
        return detach(user)


def make_customer(app, chain, email="buyer@example.com", home_store=None, name="Lin") -> Customer:
    with in_app(app):
        customer = Customer(
            chain_id=chain.id, email=email, name=name,
            home_store_id=home_store.id if home_store is not None else None,
        )
        customer.set_password(PASSWORD)
        _db.session.add(customer)
        return detach(customer)


@pytest.fixture
def chain(app):
    return make_chain(app)


@pytest.fixture
def store(app, chain):
    return make_store(app, chain, "north", "North Street")


@pytest.fixture
def other_store(app, chain):
    return make_store(app, chain, "south", "South Street")


@pytest.fixture
def other_chain(app):
    return make_chain(app, "rival", "Rival Tea")


@pytest.fixture
def other_chain_store(app, other_chain):
    return make_store(app, other_chain, "rival-one", "Rival One")


@pytest.fixture
def customer(app, chain, store):
    return make_customer(app, chain, home_store=store)


@pytest.fixture
def manager(app, chain, store):
    return make_staff(app, "manager@north.test", chain, store, "manager")


@pytest.fixture
def clerk(app, chain, store):
    return make_staff(app, "clerk@north.test", chain, store, "clerk")


@pytest.fixture
def hq_user(app, chain):
    return make_staff(app, "hq@acme.test", chain, None, "hq")


@pytest.fixture
def admin_user(app):
    return make_staff(app, "root@platform.test", admin=True)


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, account, store=None, chain=None):
    """Sign ``account`` in through the real login form of its surface."""
    if getattr(account, "kind", None) == "customer":
        url = f"/s/{store.slug}/login"
    elif account.is_platform_admin:
        url = "/admin/login"
    elif store is not None:
        url = f"/s/{store.slug}/manage/login"
    else:
        url = f"/hq/{chain.slug}/login"
    response = client.post(url, data={"email": account.email, "password": PASSWORD})
    assert response.status_code == 302, f"login at {url} failed: {response.status_code}"
    return response


def set_plugin_enabled(app, store, name: str, enabled: bool = True) -> None:
    """Turn plugin ``name`` on or off for ``store`` as its manager would (callbacks run).

    HQ policy still applies: a forbidden plugin cannot be turned on.
    """
    from .plugins.enablement import set_store_plugin

    with app.test_request_context(), tenancy.unscoped():
        set_store_plugin(_db.session.get(Store, store.id), name, enabled)
        _db.session.commit()
        _db.session.remove()


def set_plugin_policy(app, chain, name: str, policy: str, default: bool = False) -> None:
    """Set HQ's policy for ``name`` in ``chain``: ``forbidden``, ``allowed`` or ``forced``."""
    from .plugins.enablement import set_policy

    with app.test_request_context(), tenancy.unscoped():
        set_policy(_db.session.get(Chain, chain.id), name, policy, default)
        _db.session.commit()
        _db.session.remove()


def set_plugin_settings(app, name: str, values: dict, chain=None, store=None, locked=None):
    """Set a plugin's settings as HQ (``chain=``, optionally ``locked=``) or a store would."""
    from . import settings
    from .plugins import settings_namespace

    with in_app(app):
        if chain is not None:
            row = _db.session.get(Chain, chain.id)
            settings.set_chain_values(row, settings_namespace(name), values, locked=locked)
        if store is not None:
            settings.set_store_values(
                _db.session.get(Store, store.id), settings_namespace(name), values
            )
        _db.session.commit()


def plugin_enabled_for(app, store, name: str) -> bool:
    """Whether ``name`` is on for ``store`` right now (policy and choice together)."""
    from .plugins import enabled_names

    with app.test_request_context(), tenancy.unscoped():
        return name in enabled_names(_db.session.get(Store, store.id))


@pytest.fixture
def enable_plugin(app, store):
    """``enable_plugin(name, store=None)``: turn a plugin on (for ``store`` by default).

    Plugins under test that are not pip-installed can be registered through
    the ``app_config`` fixture: ``{"EXTRA_PLUGINS": [my_plugin_module]}``.
    """

    def enable(name: str, target=None, enabled: bool = True):
        set_plugin_enabled(app, target if target is not None else store, name, enabled)

    return enable


@pytest.fixture
def db(app):
    """The database session inside an application context that sees every tenant."""
    with in_app(app) as session:
        yield session


@pytest.fixture
def runner(app):
    """Flask's CLI runner: ``runner.invoke(args=["shopbuilder", "plugins", "list"])``.

    Prefer :func:`run_cli`, which keeps an application context around the
    whole command as ``flask`` itself does.
    """
    return app.test_cli_runner()


def run_cli(app, *args):
    """Run ``flask <args>`` against ``app``; returns click's result (``output``, ``exit_code``)."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
        _db.session.remove()
    return result


def page_cache_lifetimes(app, monkeypatch) -> list:
    """The lifetimes (seconds) the storefront's page cache gives the pages it keeps.

    The list grows as pages are cached from now on; for code that calls
    ``page_valid_until`` (a page that changes by itself at a known moment).
    """
    from .storefront.pagecache import PAGE_KEY_PREFIX

    return cache_lifetimes(app, monkeypatch, PAGE_KEY_PREFIX)


def cache_lifetimes(app, monkeypatch, prefix: str) -> list:
    """The lifetimes (seconds) given from now on to cache keys starting with ``prefix``.

    ``STORE_CACHED_PREFIX`` (from ``shopbuilder.plugins``) for what ``store_cached``
    and ``cached_slot`` keep.
    """
    from .extensions import cache

    kept = []
    with app.app_context():
        backend = cache.cache
    original = backend.set

    def recording(key, value, timeout=None):
        if key.startswith(prefix):
            kept.append(timeout)
        return original(key, value, timeout=timeout)

    monkeypatch.setattr(backend, "set", recording)
    return kept


def csrf_token(client, url: str) -> str:
    """Fetch ``url`` and return the CSRF token of its first form."""
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no csrf_token in {url}"
    return match.group(1)


# -- seeding one row of any model, for the generic isolation tests -----------------------------
#
# tests/test_isolation_models.py builds a row of EVERY ChainOwned model for several stores and
# proves the tenant guard hides the other tenants' rows; tests/test_isolation_urls.py requests
# every route that takes an object id with another tenant's object. Both need a way to build a
# row of a model they do not know: a factory registered here. An area or plugin that adds a
# model registers its factory with ``@seed_factory(Model)`` in its package's ``testing``
# module (``shopbuilder.testing`` for the core, ``<plugin package>.testing`` for a plugin,
# imported on demand). A model without one fails those tests with "add a seed factory for X".

SEED_FACTORIES: dict[type, Callable] = {}
#: Models with rows HQ owns, for HQ pages (see :func:`hq_seed_factory`).
HQ_SEED_FACTORIES: dict[type, Callable] = {}

#: URL id arguments whose name is not ``<table name>_id``: argument name -> model.
ID_ARGUMENT_MODELS: dict[str, type] = {}

#: Arguments that carry another attribute than the row's ``id`` (an order's ``number``).
ID_ARGUMENT_ATTRIBUTES: dict[str, str] = {}

#: ``func(client, account, store) -> headers | None`` signing ``account`` in on the JSON API
#: (bearer token...), registered by the API area with :func:`register_api_credentials`.
#: The URL isolation test calls ``/api/`` id routes with these headers; None skips a
#: kind of account the API does not serve.
API_CREDENTIALS: list[Callable] = []

_seed_counter = itertools.count(1)


def register_api_credentials(func: Callable) -> Callable:
    API_CREDENTIALS.append(func)
    return func


def seed_factory(model: type):
    """Register ``func(session, store) -> row``: one row of ``model`` belonging to ``store``.

    The row belongs to ``store`` when the model has a store, else to its chain; the
    factory may call :func:`seed` for rows it depends on and must make unique values
    (use :func:`unique`). It does not need to flush.
    """

    def decorator(func):
        SEED_FACTORIES[model] = func
        return func

    return decorator


def hq_seed_factory(model: type):
    """Register ``func(session, store) -> row``: a ``model`` row HQ owns, for HQ pages.

    For models whose rows belong either to a store or to HQ (a campaign a store
    runs for itself, or one HQ runs for many stores): HQ's pages show only HQ's
    rows, so the console walk seeds one of those. Optional; without it HQ pages
    get the store's row.
    """

    def decorator(func):
        HQ_SEED_FACTORIES[model] = func
        return func

    return decorator


def seed_for_hq(session, model: type, store: Store):
    """Like :func:`seed`, but HQ's own row when the model has an HQ seed factory."""
    find_seed_factory(model)  # imports the plugin's testing module, which registers both
    factory = HQ_SEED_FACTORIES.get(model)
    if factory is None:
        return seed(session, model, store)
    row = factory(session, store)
    if row not in session:
        session.add(row)
    session.flush()
    return row


def register_id_argument(name: str, model: type, attribute: str = "id") -> None:
    """Tell the URL isolation test which model a route's ``<name>`` argument names.

    ``attribute`` is the column the URL carries when it is not the id, e.g.
    ``register_id_argument("number", Order, attribute="number")`` for
    ``/s/<store>/orders/<number>``: such an argument is an identifier whatever its converter.
    """
    ID_ARGUMENT_MODELS[name] = model
    if attribute != "id":
        ID_ARGUMENT_ATTRIBUTES[name] = attribute


def url_value_of(name: str, row):
    """What a URL's ``<name>`` argument holds for ``row`` (its id, or the registered column)."""
    return getattr(row, ID_ARGUMENT_ATTRIBUTES.get(name, "id"))


_ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<options>[^)]*)\))?:)?(?P<name>\w+)>")


def example_url_values(rule, **known) -> dict:
    """Values that build ``rule``'s URL: ``known`` ones, else 1 for ints, a valid choice
    for ``<any(...)>``, and ``"x"`` for the rest."""
    values = {}
    for match in _ROUTE_ARGUMENT.finditer(rule.rule):
        name, converter = match["name"], match["converter"]
        if name in known:
            values[name] = known[name]
        elif converter == "int":
            values[name] = 1
        elif converter == "any":
            values[name] = match["options"].split(",")[0].strip()
        else:
            values[name] = "x"
    return values


def model_for_id_argument(name: str):
    """The model a route's ``<int:name>`` argument names, or None (see docs/architecture.md)."""
    if name in ID_ARGUMENT_MODELS:
        return ID_ARGUMENT_MODELS[name]
    if name.endswith("_id"):
        table = name[:-3]
        for mapper in _db.Model.registry.mappers:
            if getattr(mapper.class_, "__tablename__", None) == table:
                return mapper.class_
    return None


def unique(prefix: str = "x") -> str:
    return f"{prefix}{next(_seed_counter)}"


class MissingSeedFactory(LookupError):
    pass


def find_seed_factory(model: type):
    if model not in SEED_FACTORIES:
        package = model.__module__.split(".")[0]
        with contextlib.suppress(ImportError):
            importlib.import_module(f"{package}.testing")
    factory = SEED_FACTORIES.get(model)
    if factory is None:
        raise MissingSeedFactory(
            f"add a seed factory for {model.__module__}.{model.__name__}: "
            f"@seed_factory({model.__name__}) in {model.__module__.split('.')[0]}.testing "
            "(see shopbuilder/testing.py)"
        )
    return factory


def seed(session, model: type, store: Store):
    """Build, add and flush one ``model`` row belonging to ``store`` (or its chain)."""
    row = find_seed_factory(model)(session, store)
    if row not in session:
        session.add(row)
    session.flush()
    return row


def tenant_models() -> list[type]:
    """Every mapped ChainOwned model, core and plugins alike."""
    from .models import ChainOwned

    classes = {m.class_ for m in _db.Model.registry.mappers if issubclass(m.class_, ChainOwned)}
    return sorted(classes, key=lambda c: (c.__module__, c.__name__))


@seed_factory(Store)
def _seed_store(session, store):
    # The session's own copy: adding the caller's detached object would expire it on commit.
    return session.get(Store, store.id)


@seed_factory(User)
def _seed_user(session, store):
    """A clerk of ``store``: staff ids in URLs must not reach another store's people."""
    user = User(email=f"{unique('staff')}@seed.test", name="Seed", password_hash="!seed")
    session.add(user)
    session.flush()
    session.add(StaffRole(user_id=user.id, chain_id=store.chain_id, store_id=store.id,
                          role="clerk"))
    return user


@seed_factory(StaffRole)
def _seed_staff_role(session, store):
    user = User(email=f"{unique('role')}@seed.test", name="Seed", password_hash="!seed")
    session.add(user)
    session.flush()
    return StaffRole(user_id=user.id, chain_id=store.chain_id, store_id=store.id, role="clerk")


@seed_factory(Customer)
def _seed_customer(session, store):
    return Customer(chain_id=store.chain_id, email=f"{unique('c')}@seed.test", name="Seed",
                    home_store_id=store.id, password_hash="!seed")


def _seed_category(session, store):
    from .models import Category

    return Category(chain_id=store.chain_id, slug=unique("cat"), name="Seed")


def _seed_product(session, store):
    from .models import Product

    return Product(chain_id=store.chain_id, store_id=store.id, title=unique("Product "))


def _seed_variant(session, store):
    from .models import Product, Variant

    product = seed(session, Product, store)
    return Variant(chain_id=store.chain_id, product_id=product.id, sku=unique("SKU"),
                   price_fen=100)


def _seed_publication(session, store):
    from .models import Product, Publication

    product = seed(session, Product, store)
    return Publication(chain_id=store.chain_id, product_id=product.id, target="store",
                       store_id=store.id)


def _seed_listing(session, store):
    from .models import StoreListing, Variant

    variant = seed(session, Variant, store)
    return StoreListing(chain_id=store.chain_id, store_id=store.id, variant_id=variant.id,
                        stock_on_hand=5)


def _register_core_seeds() -> None:
    from .models import Category, Product, Publication, StoreListing, Variant

    seed_factory(Category)(_seed_category)
    seed_factory(Product)(_seed_product)
    seed_factory(Variant)(_seed_variant)
    seed_factory(Publication)(_seed_publication)
    seed_factory(StoreListing)(_seed_listing)
    register_id_argument("listing_id", StoreListing)


_register_core_seeds()

# Areas register their seed factories here, after the core ones.
from . import catalogue_testing, ledger_testing, orders_testing  # noqa: E402,F401
from .api import testing_seeds as api_seeds  # noqa: E402,F401
from .plugins import testing_seeds  # noqa: E402,F401
