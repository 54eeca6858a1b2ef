"""HQ's CSV store import: upload, dry-run preview with per-row errors, confirm.

The uploaded file waits in ``instance/imports/`` between the preview and the
confirmation, named by the chain and a random token, so the confirmation
imports exactly the file that was previewed, and nobody else's.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from ..auth import hq_required
from ..services.store_import import COLUMNS, ImportFailed, import_stores, plan_import
from . import bp
from .forms import ImportConfirmForm, ImportUploadForm

log = logging.getLogger(__name__)

UPLOAD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
#: Uploads never confirmed are deleted after a day.
UPLOAD_MAX_AGE = 86400
PREVIEW_ROWS = 200


def _upload_folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload_path(token: str) -> Path:
    if not UPLOAD_TOKEN.match(token or ""):
        abort(404)
    return _upload_folder() / f"{g.chain.id}-{token}.csv"


def _forget_old_uploads() -> None:
    limit = time.time() - UPLOAD_MAX_AGE
    for path in _upload_folder().glob("*.csv"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


@bp.route("/stores/import", methods=["GET", "POST"])
@hq_required
def store_import():
    form = ImportUploadForm()
    if form.validate_on_submit():
        _forget_old_uploads()
        data = form.file.data.read()
        token = secrets.token_urlsafe(24)
        _upload_path(token).write_bytes(data)
        plan = plan_import(g.chain, data)
        return render_template(
            "hq/stores/import_preview.html", plan=plan, preview=plan.rows[:PREVIEW_ROWS],
            confirm=ImportConfirmForm(upload=token), filename=form.file.data.filename,
        )
    return render_template("hq/stores/import.html", form=form, columns=COLUMNS)


@bp.post("/stores/import/confirm")
@hq_required
def store_import_confirm():
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    path = _upload_path(form.upload.data)
    if not path.exists():
        flash(_("That upload has expired; please upload the file again."), "error")
        return redirect(url_for("hq.store_import"))
    try:
        plan, result = import_stores(g.chain, path.read_bytes())
    except ImportFailed as exc:
        flash(str(exc), "error")
        return redirect(url_for("hq.store_import"))
    if result is None:
        # Something changed since the preview (a slug was taken...): show why.
        return render_template(
            "hq/stores/import_preview.html", plan=plan, preview=plan.rows[:PREVIEW_ROWS],
            confirm=ImportConfirmForm(upload=form.upload.data), filename="",
        )
    os.unlink(path)
    log.info("HQ %s imported %d stores", g.chain.slug, result.stores)
    links = [
        (i.email, i.store_slug,
         url_for("manage.set_password", store=i.store_slug, token=i.token, _external=True))
        for i in result.invitations
    ]
    return render_template("hq/stores/import_done.html", result=result, links=links)
