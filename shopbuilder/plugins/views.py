"""The plugin pages of the consoles: HQ policy and chain settings, a store's plugins.

* ``/hq/<chain>/plugins``: per plugin a policy (forbidden, allowed, forced),
  whether stores start with it on, how many stores have it on, and the chain's
  values of its settings with a lock per key.
* ``/s/<store>/manage/plugins``: the plugins HQ allows, on or off, and each
  plugin's settings showing whether a value is inherited, overridden or locked.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from .. import settings
from ..auth import hq_required, manager_required
from ..extensions import db
from . import PluginError, enabled_names, get_host, jsonable, settings_namespace
from .enablement import set_policy, set_store_plugin
from .policy import POLICIES, PolicyRefused, chain_policy, count_enabled

hq_bp = Blueprint("hq_plugins", __name__, url_prefix="/hq/<chain>/plugins")
manage_bp = Blueprint("manage_plugins", __name__, url_prefix="/s/<store>/manage/plugins")

POLICY_LABELS = {
    "forbidden": _l("Forbidden"),
    "allowed": _l("Allowed (stores choose)"),
    "forced": _l("Forced on"),
}
SOURCE_LABELS = {
    "default": _l("inherited (platform default)"),
    "chain": _l("inherited from HQ"),
    "store": _l("overridden by this store"),
    "locked": _l("locked by HQ"),
}
#: Where a value on HQ's settings page comes from.
HQ_SOURCE_LABELS = {
    "default": _l("platform default"),
    "chain": _l("set by HQ"),
}


def _plugin_or_404(name: str):
    meta = get_host().meta.get(name)
    if meta is None:
        abort(404)
    return meta


def _form_class_or_404(name: str):
    form_cls = get_host().settings_form(name)
    if form_cls is None:
        abort(404)
    return form_cls


# -- HQ ---------------------------------------------------------------------------------------


@hq_bp.get("/")
@hq_required
def hq_index():
    host = get_host()
    rows = []
    for name in host.names:
        rows.append({
            "meta": host.meta[name],
            "rule": chain_policy(g.chain, name),
            "count": count_enabled(name, g.chain.id),
            "has_settings": host.settings_form(name) is not None,
        })
    return render_template(
        "plugin_console/hq_index.html", rows=rows, policies=POLICIES, labels=POLICY_LABELS,
        refused=host.refused,
    )


@hq_bp.post("/<name>/policy")
@hq_required
def hq_policy(name):
    meta = _plugin_or_404(name)
    policy = request.form.get("policy", "")
    if policy not in POLICIES:
        flash(_("Choose a policy."), "error")
        return redirect(url_for(".hq_index"))
    try:
        set_policy(g.chain, name, policy, default=request.form.get("default") == "on")
        db.session.commit()
    except PluginError as exc:
        db.session.rollback()
        flash(_("%(plugin)s refused the change: %(error)s", plugin=meta.title, error=exc.message),
              "error")
        return redirect(url_for(".hq_index"))
    flash(_("Policy for %(plugin)s saved.", plugin=meta.title), "success")
    return redirect(url_for(".hq_index"))


@hq_bp.route("/<name>/settings", methods=["GET", "POST"])
@hq_required
def hq_settings(name):
    meta = _plugin_or_404(name)
    form_cls = _form_class_or_404(name)
    host = get_host()
    namespace = settings_namespace(name)
    defaults = host.settings_defaults(name)
    current = settings.chain_resolve(g.chain, namespace, defaults)
    locked = settings.locked_keys(g.chain, namespace)
    if request.method == "POST" and request.form.get("reset"):
        return _hq_reset(meta, form_cls, namespace, request.form["reset"], defaults)
    if request.method == "POST":
        form = form_cls(request.form, meta={"csrf": False})
        if form.validate():
            values = {field.name: jsonable(field.data) for field in form}
            locks = {key for key in request.form.getlist("lock") if key in values}
            # Only what differs from the platform default becomes a chain value, so a
            # later platform default still reaches this chain's untouched keys.
            settings.save_chain_values(g.chain, namespace, values, defaults, locked=locks)
            db.session.commit()
            flash(_("Chain settings for %(plugin)s saved.", plugin=meta.title), "success")
            return redirect(url_for(".hq_settings", name=name))
    else:
        form = form_cls(data=current, meta={"csrf": False})
    chain_set = settings.chain_values(g.chain, namespace).keys() & defaults.keys()
    sources = {key: "chain" if key in chain_set else "default" for key in defaults}
    return render_template(
        "plugin_console/hq_settings.html", meta=meta, form=form, locked=locked,
        sources=sources, source_labels=HQ_SOURCE_LABELS,
    )


def _hq_reset(meta, form_cls, namespace: str, key: str, defaults: dict):
    """HQ's "reset to platform default" for one key: the chain follows the platform again."""
    if key in defaults:
        settings.reset_chain_value(g.chain, namespace, key)
        db.session.commit()
        label = form_cls(meta={"csrf": False})[key].label.text
        flash(_("%(setting)s now follows the platform default.", setting=label), "success")
    return redirect(url_for(".hq_settings", name=meta.name))


# -- store ------------------------------------------------------------------------------------


@manage_bp.get("/")
@manager_required
def store_index():
    host = get_host()
    on = enabled_names(g.store)
    rows = []
    for name in host.names:
        rule = chain_policy(g.chain, name)
        if rule["policy"] == "forbidden":
            continue
        rows.append({
            "meta": host.meta[name],
            "rule": rule,
            "enabled": name in on,
            "has_settings": host.settings_form(name) is not None,
        })
    return render_template("plugin_console/store_index.html", rows=rows)


@manage_bp.post("/<name>/toggle")
@manager_required
def store_toggle(name):
    meta = _plugin_or_404(name)
    enabled = request.form.get("enabled") == "on"
    try:
        set_store_plugin(g.store, name, enabled)
        db.session.commit()
    except PolicyRefused as exc:
        db.session.rollback()
        message = (
            _("HQ has forbidden %(plugin)s.", plugin=meta.title)
            if str(exc) == "forbidden"
            else _("HQ has turned %(plugin)s on for every store.", plugin=meta.title)
        )
        flash(message, "error")
        return redirect(url_for(".store_index"))
    except PluginError as exc:
        db.session.rollback()
        flash(_("%(plugin)s refused the change: %(error)s", plugin=meta.title, error=exc.message),
              "error")
        return redirect(url_for(".store_index"))
    if enabled:
        flash(_("%(plugin)s is on for this store.", plugin=meta.title), "success")
    else:
        flash(_("%(plugin)s is off for this store; its data is kept.", plugin=meta.title),
              "success")
    return redirect(url_for(".store_index"))


@manage_bp.route("/<name>/settings", methods=["GET", "POST"])
@manager_required
def store_settings(name):
    meta = _plugin_or_404(name)
    if name not in enabled_names(g.store):
        abort(404)
    form_cls = _form_class_or_404(name)
    host = get_host()
    namespace = settings_namespace(name)
    defaults = host.settings_defaults(name)
    resolved = settings.resolve(g.store, namespace, defaults)
    locked = {key for key, r in resolved.items() if r.source == "locked"}
    if request.method == "POST" and request.form.get("reset"):
        key = request.form["reset"]
        if key in resolved and key not in locked:
            settings.reset_store_value(g.store, namespace, key)
            db.session.commit()
            flash(_("%(setting)s now follows HQ's value.", setting=key), "success")
        return redirect(url_for(".store_settings", name=name))
    if request.method == "POST":
        # Locked inputs are disabled and not sent: take them out of the form.
        form = form_cls(request.form, meta={"csrf": False})
        for key in locked:
            del form[key]
        if form.validate():
            changes = {
                field.name: jsonable(field.data)
                for field in form
                if jsonable(field.data) != resolved[field.name].value
            }
            if changes:
                settings.set_store_values(g.store, namespace, changes)
                db.session.commit()
            flash(_("Settings for %(plugin)s saved.", plugin=meta.title), "success")
            return redirect(url_for(".store_settings", name=name))
        display = form_cls(MultiDict(request.form), meta={"csrf": False})
        display.validate()
        for key in locked:
            display[key].data, display[key].errors = resolved[key].value, []
    else:
        display = form_cls(data={k: r.value for k, r in resolved.items()}, meta={"csrf": False})
    return render_template(
        "plugin_console/store_settings.html", meta=meta, form=display, resolved=resolved,
        locked=locked, sources=SOURCE_LABELS,
    )
