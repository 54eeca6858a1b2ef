"""The application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    make_response,
    render_template,
    request,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config as config_module
from . import tenancy
from .extensions import babel, cache, csrf, db, limiter, login_manager, migrate

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent


class ShopBuilderFlask(Flask):
    """Flask whose ``url_for`` answers in the form the request used (path, subdomain, domain)."""

    def url_for(self, endpoint, **values):
        return tenancy.strip_host_prefix(super().url_for(endpoint, **values))


def create_app(test_config=None):
    app = ShopBuilderFlask(
        __name__,
        instance_path=os.environ.get("SHOPBUILDER_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    app.config.from_object(config_module.Defaults)
    if test_config is None:
        app.config.from_pyfile(config_module.ensure_instance_config(app.instance_path).name)
        config_module.from_environment(app.config)
    else:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config.from_mapping(test_config)
    config_module.apply_https(app.config)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", config_module.sqlite_default_url(app.instance_path)
    )
    app.config.setdefault("MEDIA_FOLDER", os.path.join(app.instance_path, "media"))
    _configure_services(app)

    from . import plugins

    host = plugins.init_app(app)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_folders(host))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    cache.init_app(app)
    limiter.init_app(app)
    tenancy.init_app(app)
    _register_blueprints(app)
    plugins.register_blueprints(app)
    _register_error_pages(app)
    _register_template_helpers(app)
    from . import consoles

    consoles.init_app(app)

    from . import themes

    # After the error pages: a store's 404/500 pages take the store's look.
    themes.init_app(app)

    from .cli import register_cli

    register_cli(app)

    from .media import bp as media_bp

    # Product photos are served by the media route; whoever registered it first wins.
    if media_bp.name not in app.blueprints:
        app.register_blueprint(media_bp)

    from .plugins.migrations import upgrade_heads_by_default

    upgrade_heads_by_default(app)
    return app


@migrate.configure
def _plugin_version_locations(alembic_config):
    """Each plugin keeps its own Alembic branch; upgrade walks them all (``heads``)."""
    from .plugins import get_host

    folders = [str(ROOT / "migrations" / "versions")]
    folders.extend(get_host().migration_folders().values())
    # os.pathsep, not spaces: a plugin installed under a path with a space still works.
    alembic_config.set_main_option("path_separator", "os")
    alembic_config.set_main_option("version_locations", os.pathsep.join(folders))
    return alembic_config


def translation_folders(host) -> list[str]:
    """One catalogue folder per area of the core and per plugin; Flask-Babel merges them."""
    folders = sorted(str(p) for p in (ROOT / "translations").iterdir() if p.is_dir())
    folders.extend(host.translation_folders().values())
    return folders


#: Entries the in-process cache (no Redis) keeps per worker before it evicts. Storefront
#: pages and catalogue reads share it (a page is about 5-20 KB of HTML plus a catalogue
#: entry of 0.5-2 KB), so 5,000 entries hold a few thousand pages: at most about 100 MB
#: per worker, typically a few tens (docs/themes.md, "Performance"). Cachelib's default
#: (500) held fewer pages than one store's catalogue, so a customer opening many
#: different pages always missed. Over the limit it evicts entries that never expire
#: first, so the catalogue's version tokens, which every store's entries hang on, get a
#: long finite timeout instead (``storefront_catalogue.VERSION_TOKEN_SECONDS``).
DEFAULT_CACHE_THRESHOLD = 5_000


def _configure_services(app) -> None:
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        # Redis down must not take the shops down: the cache then answers misses
        # (shopbuilder.cachebackend) and rate limits count in memory until it is back.
        app.config.setdefault("CACHE_TYPE", "shopbuilder.cachebackend.ForgivingRedisCache")
        app.config.setdefault("CACHE_REDIS_URL", redis_url)
        app.config.setdefault("CACHE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1})
        app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url)
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    else:
        app.config.setdefault("CACHE_TYPE", "SimpleCache")
        app.config.setdefault("CACHE_THRESHOLD", DEFAULT_CACHE_THRESHOLD)
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 300)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Copies: the defaults' dict is shared by every app of the process (a PostgreSQL
        # app made after a SQLite one must not inherit SQLite's "timeout" argument).
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {"timeout": 30, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers work during a write; foreign keys are off by default in SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def select_locale():
    """The customer's pick (``?lang=``, remembered in a cookie), else the store's language."""
    if not has_request_context():
        return None  # the CLI and the worker: the default locale, or force_locale(...)
    supported = current_app.config["SUPPORTED_LOCALES"]
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in supported:
        return chosen
    user_locale = getattr(g.get("_login_user"), "locale", None)
    if user_locale in supported:
        return user_locale
    store = g.get("store")
    if store is not None:
        return store.effective_locale
    chain = g.get("chain")
    if chain is not None:
        return chain.locale
    return request.accept_languages.best_match(supported) or app_default_locale()


def app_default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_blueprints(app) -> None:
    from . import api
    from .admin import bp as admin_bp
    from .hq import bp as hq_bp
    from .manage import bp as manage_bp
    from .platform import bp as platform_bp
    from .storefront import bp as storefront_bp

    for bp in (platform_bp, admin_bp, hq_bp, manage_bp, storefront_bp):
        app.register_blueprint(bp)
    _register_order_blueprints(app)
    api.init_app(app)


def _register_order_blueprints(app) -> None:
    from .hq.orders import bp as hq_orders_bp
    from .manage.orders import bp as manage_orders_bp
    from .storefront.orders import bp as shop_orders_bp

    for bp in (shop_orders_bp, manage_orders_bp, hq_orders_bp):
        app.register_blueprint(bp)

    from . import ledger_views

    app.register_blueprint(ledger_views.hq_bp)
    app.register_blueprint(ledger_views.manage_bp)


#: The other error pages people meet: status -> (title, what to do), English msgids.
ERROR_PAGES = {
    400: (_l("Bad request"),
          _l("The page could not understand what was sent. Go back and try again.")),
    405: (_l("Not possible here"),
          _l("This address does not take that kind of request. Go back and use the page's "
             "own buttons and links.")),
    429: (_l("Too many attempts"),
          _l("Too many attempts in a short time. Please wait a few minutes, then try again.")),
}
#: A form sent without its CSRF token, or with an old one (a page left open for long).
CSRF_PAGE = (_l("This form has expired"),
             _l("The page was open for a long time or the form came from elsewhere. Go back, "
                "reload the page and send the form again."))


def error_text(error) -> tuple[int, str, str]:
    """(status, title, message) of an error page for ``error``."""
    if isinstance(error, CSRFError):
        return 400, str(CSRF_PAGE[0]), str(CSRF_PAGE[1])
    title, message = ERROR_PAGES[error.code]
    return error.code, str(title), str(message)


def error_response(error, html: str, code: int):
    """The page with the error's own headers (``Allow`` on a 405), our content type."""
    response = make_response(html, code)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def plain_error_page(error):
    """The neutral error page (consoles, the platform), translated; JSON for the API."""
    if request.path == "/api" or request.path.startswith("/api/"):
        from .api.problems import from_http_exception, problem_response

        return problem_response(from_http_exception(error))
    code, title, message = error_text(error)
    html = render_template("errors/error.html", code=code, title=title, message=message)
    return error_response(error, html, code)


def _register_error_pages(app) -> None:
    @app.errorhandler(404)
    def not_found(error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(500)
    def server_error(error):
        return render_template("errors/500.html"), 500

    # Shop pages get these in the store's look (shopbuilder.themes.views.register).
    for code in ERROR_PAGES:
        app.register_error_handler(code, plain_error_page)
    app.register_error_handler(CSRFError, plain_error_page)

    @app.after_request
    def remember_language(response):
        chosen = request.args.get("lang")
        if chosen in app.config["SUPPORTED_LOCALES"]:
            response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
        return response


def _register_template_helpers(app) -> None:
    from .money import fen_filter

    app.jinja_env.filters["fen"] = fen_filter
    app.jinja_env.globals["current_locale"] = get_locale
