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
    setting_defaults,
    settings_namespace,
    store_theme_name,
    store_theme_settings,
    stores_may_choose,
)
from .forms import build_form, form_values, localized, lock_field_name

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
    # formdata=None: a POST of this form must not fill the other form on the page.
    return _hq_page(form, _chain_settings_form(_hq_picked_theme(), formdata=None))


def _hq_picked_theme() -> str:
    """The theme whose chain-wide values HQ edits: ``?theme=`` or the chain's default."""
    wanted = request.values.get("theme")
    if wanted and wanted not in get_registry().names:
        abort(404)
    return wanted or chain_theme_name(g.chain)


def _chain_current(theme_name: str) -> dict:
    """HQ's values for the theme: its own where it set one, else the theme's default."""
    return settings_store.chain_resolve(g.chain, settings_namespace(theme_name),
                                        setting_defaults(theme_name))


def _chain_settings_form(theme_name: str, **form_kwargs):
    registry = get_registry()
    locks = settings_store.locked_keys(g.chain, settings_namespace(theme_name))
    form = build_form(registry.settings_of(theme_name), _chain_current(theme_name),
                      registry.labels_of(theme_name), locks=locks, **form_kwargs)
    return theme_name, form


def _hq_page(form, chain_settings, status: int = 200):
    theme_name, settings_form = chain_settings
    registry = get_registry()
    return render_template(
        "themes/hq_theme.html", form=form, title=_l("Theme"), theme_name=theme_name,
        themes=theme_choices(), settings_form=settings_form,
        settings=registry.settings_of(theme_name), current=_chain_current(theme_name),
    ), status


@hq_bp.post("/settings")
@hq_required
def chain_theme_settings():
    """HQ's values of a theme's settings for every store of the chain, and its locks.

    Only values that differ from the theme's default are kept, so a store shows "theme
    default" (and follows a new theme version) for what HQ left alone; a locked key
    shows HQ's value in every store whatever the store set.
    """
    theme_name = _hq_picked_theme()
    settings = get_registry().settings_of(theme_name)
    chain_settings = _chain_settings_form(theme_name)
    form = chain_settings[1]
    values = None
    if form.validate():
        try:
            values = form_values(form, settings, _chain_current(theme_name))
        except ImageRejected:
            values = None
    if values is None:
        flash(_l("Please correct the fields marked below."), "error")
        return _hq_page(_hq_theme_form(), chain_settings, 400)
    defaults = setting_defaults(theme_name)
    locked = {s.key for s in settings if form[lock_field_name(s)].data}
    settings_store.replace_chain_values(
        g.chain, settings_namespace(theme_name),
        {k: v for k, v in values.items() if v != _normalised(defaults.get(k))}, locked)
    db.session.commit()
    flash(_l("Theme settings saved."), "success")
    return redirect(url_for("hq_theme.chain_theme", theme=theme_name))


def _normalised(default):
    # Section defaults are tuples in the schema, lists once they come back from a form.
    return list(default) if isinstance(default, tuple) else default


def _hq_theme_form() -> ChainThemeForm:
    chain = g.chain
    form = ChainThemeForm(formdata=None, data={
        "default": chain_theme_name(chain), "stores_may_choose": stores_may_choose(chain),
    })
    form.default.choices = theme_choices()
    return form


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
    resolved = settings_store.resolve(g.store, settings_namespace(theme_name),
                                      setting_defaults(theme_name))
    return {key: r.source for key, r in resolved.items()}


def _form_page(form, theme_name: str, current: dict, status: int = 200):
    """The settings form again, with its errors: one page for every way a POST can fail."""
    registry = get_registry()
    return render_template(
        "themes/manage_theme.html", form=form, theme_name=theme_name,
        themes=theme_choices(), may_choose=stores_may_choose(g.chain),
        settings=registry.settings_of(theme_name), locked=_locked(theme_name),
        sources=_sources(theme_name), current=current, title=_l("Theme"),
    ), status


def _submitted_values(form, theme_name: str, current: dict) -> dict | None:
    """The values the form asks for, locked keys left out; ``None`` when it must be redrawn.

    An upload that is refused (not an image, too large) is a field error like any other:
    it must never quietly fall back to the saved values of every field.
    """
    if not form.validate():
        return None
    try:
        values = form_values(form, get_registry().settings_of(theme_name), current)
    except ImageRejected:
        return None  # form_values put the reason on the image field
    locked = _locked(theme_name)
    return {k: v for k, v in values.items() if k not in locked}


@manage_bp.route("/", methods=["GET", "POST"])
@manager_required
def store_theme():
    theme_name = _picked_theme()
    form, current = _settings_form(theme_name)
    if request.method == "POST":
        values = _submitted_values(form, theme_name, current)
        if values is not None:
            if theme_name != store_theme_name(g.store):
                settings_store.set_store_values(g.store, NAMESPACE, {"name": theme_name})
            settings_store.set_store_values(g.store, settings_namespace(theme_name), values)
            db.session.commit()
            flash(_l("Theme settings saved."), "success")
            return redirect(url_for("manage_theme.store_theme"))
        flash(_l("Please correct the fields marked below."), "error")
    return _form_page(form, theme_name, current)


@manage_bp.post("/preview")
@manager_required
def preview():
    """The home page with the unsaved values of the form; nothing is stored but images.

    A form that does not validate (a bad colour, a refused upload) comes back with its
    errors and status 400 instead of a preview of something the manager did not ask for.
    """
    from ..storefront.browse import home_context

    theme_name = _picked_theme()
    form, current = _settings_form(theme_name)
    draft = _submitted_values(form, theme_name, current)
    if draft is None:
        flash(_l("Please correct the fields marked below."), "error")
        return _form_page(form, theme_name, current, 400)
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
