"""HQ's deadlines and money rules: ``/hq/<chain>/settings``.

The deadline defaults live in the ``deadlines`` settings namespace (chain values
inherited by every store unless a store overrides a key HQ has not locked); the
royalty is ``chain.royalty_bp``, typed by HQ as a percentage because that is how
franchise contracts state it. A change applies to orders that enter a state
afterwards: a deadline already set keeps its due time.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import settings, tenancy
from ..auth import hq_required
from ..extensions import db
from ..models import Store
from ..services.orders import DEADLINE_DEFAULTS
from . import bp

log = logging.getLogger(__name__)

NAMESPACE = "deadlines"

#: key -> (label, unit, lowest, highest): what each deadline means and its sane range.
DEADLINE_FIELDS = {
    "pay_minutes": (_l("Pay within"), _l("minutes"), 5, 24 * 60),
    "fulfil_days": (_l("Ship or prepare within"), _l("days"), 1, 60),
    "pickup_days": (_l("Collect a pickup within"), _l("days"), 1, 60),
    "confirm_days": (_l("Receipt confirmed automatically after"), _l("days"), 1, 60),
    "after_sale_days": (_l("After-sale window"), _l("days"), 1, 90),
}
ROYALTY_MAX_PERCENT = Decimal(50)


class InvalidSetting(ValueError):
    pass


def parse_whole(text: str, lowest: int, highest: int) -> int:
    text = (text or "").strip()
    if not text.isdigit():
        raise InvalidSetting(_("Enter a whole number."))
    value = int(text)
    if not lowest <= value <= highest:
        raise InvalidSetting(_("Enter a number from %(low)s to %(high)s.",
                               low=lowest, high=highest))
    return value


def parse_royalty_percent(text: str) -> int:
    """``"5"`` or ``"5.25"`` (percent) -> basis points; at most two decimals, 0 to 50."""
    text = (text or "").strip().rstrip("%").strip()
    try:
        percent = Decimal(text)
    except InvalidOperation:
        raise InvalidSetting(_("Enter a percentage such as 5 or 5.5.")) from None
    if not percent.is_finite() or percent.as_tuple().exponent < -2:
        raise InvalidSetting(_("Enter a percentage with at most two decimals."))
    if not Decimal(0) <= percent <= ROYALTY_MAX_PERCENT:
        raise InvalidSetting(_("The royalty must be between 0%% and %(max)s%%.",
                               max=ROYALTY_MAX_PERCENT))
    return int(percent * 100)


def format_percent(basis_points: int) -> str:
    return f"{Decimal(basis_points) / 100:f}".rstrip("0").rstrip(".") or "0"


def store_overrides_by_key(chain) -> dict[str, int]:
    """How many of the chain's stores set their own value for each deadline."""
    counts = dict.fromkeys(DEADLINE_FIELDS, 0)
    with tenancy.unscoped():
        stores = db.session.scalars(db.select(Store).where(Store.chain_id == chain.id))
        for store in stores:
            for key in settings.store_overrides(store, NAMESPACE):
                if key in counts:
                    counts[key] += 1
    return counts


@bp.route("/settings", methods=["GET", "POST"])
@hq_required
def settings_page():
    chain = g.chain
    current = settings.chain_resolve(chain, NAMESPACE, DEADLINE_DEFAULTS)
    locked = settings.locked_keys(chain, NAMESPACE)
    values = {key: str(current[key]) for key in DEADLINE_FIELDS}
    values["royalty"] = format_percent(chain.royalty_bp)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        values = {key: form.get(key, "") for key in [*DEADLINE_FIELDS, "royalty"]}
        parsed = {}
        for key, (_label, _unit, lowest, highest) in DEADLINE_FIELDS.items():
            try:
                parsed[key] = parse_whole(values[key], lowest, highest)
            except InvalidSetting as exc:
                errors[key] = str(exc)
        try:
            royalty_bp = parse_royalty_percent(values["royalty"])
        except InvalidSetting as exc:
            errors["royalty"] = str(exc)
        new_locks = {key for key in DEADLINE_FIELDS if form.get(f"lock_{key}")}
        if not errors:
            # Only what differs from the platform default is kept: the rest follows it.
            settings.save_chain_values(chain, NAMESPACE, parsed, DEADLINE_DEFAULTS,
                                       locked=new_locks)
            old_bp, chain.royalty_bp = chain.royalty_bp, royalty_bp
            db.session.commit()
            log.info("HQ %s set deadlines %s (locked %s), royalty %s -> %s bp",
                     chain.slug, parsed, sorted(new_locks), old_bp, royalty_bp)
            flash(_("Deadlines and money rules saved."), "success")
            return redirect(url_for("hq.settings_page"))
        locked = frozenset(new_locks)
        flash(_("Nothing was saved: correct the marked fields."), "error")
    return render_template(
        "hq/settings.html", fields=DEADLINE_FIELDS, defaults=DEADLINE_DEFAULTS, values=values,
        locked=locked, errors=errors, overrides=store_overrides_by_key(chain),
    ), (400 if errors else 200)
