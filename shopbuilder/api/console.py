"""Who may call the API from a web page (CORS): HQ for the chain, a manager for a store.

The allowed origins are the ``cors_origins`` key of the ``api`` settings
namespace, so they inherit like every other setting: HQ's list reaches every
store that has not set its own, and HQ can lock it. Mini programs do not need
CORS (their requests are not a browser's); H5 pages and web shops on another
domain do. See ``docs/api.md``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField, TextAreaField, ValidationError

from .. import settings, tenancy
from ..auth import hq_required, manager_required
from ..extensions import db
from ..models import Store
from .core import API_SETTINGS_DEFAULTS

log = logging.getLogger(__name__)

NAMESPACE, KEY = "api", "cors_origins"
MAX_ORIGINS = 20

hq_bp = Blueprint("hq_api", __name__, url_prefix="/hq/<chain>/api")
manage_bp = Blueprint("manage_api", __name__, url_prefix="/s/<store>/manage/api")


def parse_origin(text: str) -> str:
    """``https://h5.example.com`` (scheme, host, optional port, nothing else), lowercased.

    Browsers send the origin in exactly that form, so anything more (a path, a
    trailing slash) could never match and is refused rather than kept silently.
    """
    if text == "*":
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path or parts.query or parts.fragment or parts.username
            or len(text) > 200):
        raise ValidationError(_("%(origin)s is not an origin such as https://h5.example.com "
                                "(no path, no slash at the end).", origin=text[:200]))
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def parse_origins(text: str) -> list[str]:
    """One origin per line (blank lines ignored, duplicates dropped), or a 400-worthy error."""
    origins: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and (origin := parse_origin(line)) not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(_("At most %(count)s origins.", count=MAX_ORIGINS))
    return origins


class OriginsForm(FlaskForm):
    origins = TextAreaField(
        _l("Allowed origins, one per line"),
        description=_l("Web pages on these origins may call the shop API from the browser, "
                       "e.g. https://h5.example.com. * allows every origin. Mini programs "
                       "need no entry here."),
        render_kw={"rows": 5, "spellcheck": "false", "autocapitalize": "off"})

    def validate_origins(self, field):
        field.parsed = parse_origins(field.data)


class ChainOriginsForm(OriginsForm):
    lock = BooleanField(_l("Lock: stores cannot change it"))
    submit = SubmitField(_l("Save"))


class StoreOriginsForm(OriginsForm):
    submit = SubmitField(_l("Save"))


class InheritForm(FlaskForm):
    """Drop the store's own list (its CSRF token is all it carries)."""

    inherit = SubmitField(_l("Use headquarters' list"))


def _stores_with_their_own(chain) -> int:
    with tenancy.unscoped():
        stores = db.session.scalars(db.select(Store).where(Store.chain_id == chain.id))
        return sum(1 for store in stores if KEY in settings.store_overrides(store, NAMESPACE))


@hq_bp.route("/origins", methods=["GET", "POST"])
@hq_required
def chain_origins():
    chain = g.chain
    current = settings.chain_resolve(chain, NAMESPACE, API_SETTINGS_DEFAULTS)[KEY]
    locked = KEY in settings.locked_keys(chain, NAMESPACE)
    form = ChainOriginsForm(data={"origins": "\n".join(current), "lock": locked})
    if form.validate_on_submit():
        locks = set(settings.locked_keys(chain, NAMESPACE)) - {KEY}
        if form.lock.data:
            locks.add(KEY)
        settings.set_chain_values(chain, NAMESPACE, {KEY: form.origins.parsed}, locked=locks)
        db.session.commit()
        log.info("HQ %s set API origins %s (locked: %s)", chain.slug, form.origins.parsed,
                 form.lock.data)
        flash(_("Allowed origins saved."), "success")
        return redirect(url_for("hq_api.chain_origins"))
    status = 400 if form.errors else 200
    return render_template("api/hq_origins.html", form=form,
                           overrides=_stores_with_their_own(chain)), status


@manage_bp.route("/origins", methods=["GET", "POST"])
@manager_required
def store_origins():
    store = g.store
    resolved = settings.resolve(store, NAMESPACE, API_SETTINGS_DEFAULTS)[KEY]
    form = StoreOriginsForm(data={"origins": "\n".join(resolved.value)})
    if resolved.source == "locked" and form.is_submitted():
        flash(_("Headquarters has locked this setting."), "error")
        return redirect(url_for("manage_api.store_origins"))
    if form.validate_on_submit():
        settings.set_store_values(store, NAMESPACE, {KEY: form.origins.parsed})
        db.session.commit()
        log.info("store %s set API origins %s", store.slug, form.origins.parsed)
        flash(_("Allowed origins saved."), "success")
        return redirect(url_for("manage_api.store_origins"))
    chain_list = settings.chain_resolve(store.chain, NAMESPACE, API_SETTINGS_DEFAULTS)[KEY]
    return render_template(
        "api/manage_origins.html", form=form, inherit_form=InheritForm(),
        source=resolved.source, chain_list=chain_list,
    ), (400 if form.errors else 200)


@manage_bp.post("/origins/inherit")
@manager_required
def inherit_origins():
    """Go back to headquarters' list (a locked list is headquarters' already)."""
    if InheritForm().validate_on_submit():
        settings.reset_store_value(g.store, NAMESPACE, KEY)
        db.session.commit()
        log.info("store %s uses the chain's API origins", g.store.slug)
        flash(_("This store now uses headquarters' list."), "success")
    return redirect(url_for("manage_api.store_origins"))
