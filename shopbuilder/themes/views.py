"""Theme pages: HQ's choice for the chain, the store's settings form with preview, error pages."""

from __future__ import annotations

import logging
import re

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField

from .. import settings as settings_store
from ..auth import hq_required, manager_required
from ..extensions import db
from ..media import ImageRejected
from . import (
    NAMESPACE,
    chain_theme_name,
    get_registry,
    render_store_template,
    settings_namespace,
    store_theme_name,
    store_theme_settings,
    stores_may_choose,
)
from .forms import build_form, form_values, localized

log = logging.getLogger(__name__)

hq_bp = Blueprint("hq_theme", __name__, url_prefix="/hq/<chain>/theme")
manage_bp = Blueprint("manage_theme", __name__, url_prefix="/s/<store>/manage/theme")


def theme_choices():
    registry = get_registry()
    return [(n, localized(registry.themes[n].label, n)) for n in registry.names]


# -- HQ ------------------------------------------------------------------------------------------


class ChainThemeForm(FlaskForm):
    default = SelectField(_l("Default theme of every store"))
    stores_may_choose = BooleanField(_l("Store managers may choose another theme"))


@hq_bp.route("/", methods=["GET", "POST"])
@hq_required
def chain_theme():
    chain = g.chain
    form = ChainThemeForm(data={
        "default": chain_theme_name(chain), "stores_may_choose": stores_may_choose(chain),
    })
    form.default.choices = theme_choices()
    if form.validate_on_submit():
        locked = set(settings_store.locked_keys(chain, NAMESPACE))
        if form.stores_may_choose.data:
            locked.discard("name")
        else:
            locked.add("name")
        settings_store.set_chain_values(chain, NAMESPACE, {"name": form.default.data}, locked)
        db.session.commit()
        flash(_l("Theme settings saved."), "success")
        return redirect(url_for("hq_theme.chain_theme"))
    return render_template("themes/hq_theme.html", form=form, title=_l("Theme"))


# -- the store manager -----------------------------------------------------------------------


def _picked_theme() -> str:
    """The theme being edited: the store's own, or another one when HQ lets stores choose."""
    current = store_theme_name(g.store)
    wanted = request.values.get("theme")
    if wanted and wanted != current:
        if not stores_may_choose(g.chain) or wanted not in get_registry().names:
            abort(404)
        return wanted
    return current


def _settings_form(theme_name: str, **kwargs):
    registry = get_registry()
    values = store_theme_settings(g.store, theme_name)
    return build_form(registry.settings_of(theme_name), values, registry.labels_of(theme_name),
                      **kwargs), values


def _locked(theme_name: str) -> frozenset[str]:
    return settings_store.locked_keys(g.chain, settings_namespace(theme_name))


def _sources(theme_name: str) -> dict:
    from . import setting_defaults

    resolved = settings_store.resolve(g.store, settings_namespace(theme_name),
                                      setting_defaults(theme_name))
    return {key: r.source for key, r in resolved.items()}


@manage_bp.route("/", methods=["GET", "POST"])
@manager_required
def store_theme():
    theme_name = _picked_theme()
    registry = get_registry()
    form, current = _settings_form(theme_name)
    if request.method == "POST" and form.validate():
        try:
            values = form_values(form, registry.settings_of(theme_name), current)
        except ImageRejected:
            values = None
        if values is not None:
            locked = _locked(theme_name)
            values = {k: v for k, v in values.items() if k not in locked}
            if theme_name != store_theme_name(g.store):
                settings_store.set_store_values(g.store, NAMESPACE, {"name": theme_name})
            settings_store.set_store_values(g.store, settings_namespace(theme_name), values)
            db.session.commit()
            flash(_l("Theme settings saved."), "success")
            return redirect(url_for("manage_theme.store_theme"))
    if request.method == "POST":
        flash(_l("Please correct the fields marked below."), "error")
    return render_template(
        "themes/manage_theme.html", form=form, theme_name=theme_name,
        themes=theme_choices(), may_choose=stores_may_choose(g.chain),
        settings=registry.settings_of(theme_name), locked=_locked(theme_name),
        sources=_sources(theme_name), current=current, title=_l("Theme"),
    )


@manage_bp.post("/preview")
@manager_required
def preview():
    """The home page with the unsaved values of the form; nothing is stored but images."""
    from ..storefront.browse import home_context

    theme_name = _picked_theme()
    registry = get_registry()
    form, current = _settings_form(theme_name)
    if not form.validate():
        return render_template(
            "themes/manage_theme.html", form=form, theme_name=theme_name,
            themes=theme_choices(), may_choose=stores_may_choose(g.chain),
            settings=registry.settings_of(theme_name), locked=_locked(theme_name),
            sources=_sources(theme_name), current=current, title=_l("Theme"),
        ), 400
    try:
        draft = form_values(form, registry.settings_of(theme_name), current)
    except ImageRejected:
        draft = dict(current)
    for key in _locked(theme_name):
        draft.pop(key, None)
    html = render_store_template(
        "storefront/home.html", draft=draft, theme_name=theme_name, preview=True,
        **home_context(g.store),
    )
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# -- error pages in the store's look --------------------------------------------------------------

_STORE_PATH = re.compile(r"^/s/([a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)(?:/|$)")


def _store_for_error():
    """The store whose page failed, also when routing never reached the store's blueprint."""
    from ..models import Store
    from ..tenancy import TenantScope, any_chain, set_request_scope

    store = g.get("store")
    if store is not None:
        return store
    match = _STORE_PATH.match(request.path)
    if not match or request.path.startswith(f"/s/{match.group(1)}/manage"):
        return None
    store = db.session.scalar(any_chain(db.select(Store).where(Store.slug == match.group(1))))
    if store is None:
        return None
    g.store, g.chain = store, store.chain
    set_request_scope(TenantScope(store.chain_id, store.id))
    return store


def _in_store_console() -> bool:
    return bool(request.blueprint) and request.blueprint.split(".")[0].startswith("manage")


def store_not_found(error):
    try:
        store = _store_for_error()
        if store is not None and not store.is_suspended and not _in_store_console():
            return render_store_template("storefront/404.html"), 404
    except Exception:
        log.exception("branded 404 page failed")
    return render_template("errors/404.html"), 404


def store_server_error(error):
    try:
        db.session.rollback()
        store = _store_for_error()
        if store is not None and not _in_store_console():
            return render_store_template("storefront/500.html"), 500
    except Exception:
        log.exception("branded 500 page failed")
    return render_template("errors/500.html"), 500


def store_error_page(error):
    """400 (and an expired form), 405 and 429 on a shop page, in the store's look."""
    from ..app import error_response, error_text, plain_error_page

    try:
        store = _store_for_error()
        api = request.path.startswith("/api/")
        if store is not None and not store.is_suspended and not _in_store_console() and not api:
            code, title, message = error_text(error)
            html = render_store_template("storefront/error.html", code=code, title=title,
                                         message=message)
            return error_response(error, html, code)
    except Exception:
        log.exception("branded %s page failed", getattr(error, "code", "error"))
    return plain_error_page(error)


def register(app) -> None:
    from flask_wtf.csrf import CSRFError

    from ..app import ERROR_PAGES
    from ..media import bp as media_bp

    app.register_blueprint(hq_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(media_bp)
    app.register_error_handler(404, store_not_found)
    app.register_error_handler(500, store_server_error)
    for code in ERROR_PAGES:
        app.register_error_handler(code, store_error_page)
    app.register_error_handler(CSRFError, store_error_page)
