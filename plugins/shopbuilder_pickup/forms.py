"""The plugin's settings: HQ sets chain values (and may lock them), stores override the rest."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import Form, IntegerField, TextAreaField
from wtforms.validators import NumberRange, Optional, ValidationError


def _dates(form, field):
    for part in (field.data or "").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            date.fromisoformat(part)
        except ValueError:
            raise ValidationError(
                _l("Write dates as 2026-02-10, separated by commas.")
            ) from None


class SettingsForm(Form):
    """How long a ready order waits is not here: it is the core's ``deadlines.pickup_days``."""

    slot_minutes = IntegerField(_l("Length of a pickup slot (minutes)"), default=30,
                                validators=[NumberRange(10, 240)])
    capacity = IntegerField(_l("Orders per slot"), default=10, validators=[NumberRange(1, 1000)])
    lead_minutes = IntegerField(_l("Preparation time before the first slot (minutes)"),
                                default=60, validators=[NumberRange(0, 7 * 24 * 60)])
    days_ahead = IntegerField(_l("Days ahead a customer can book"), default=3,
                              validators=[NumberRange(0, 30)])
    closed_dates = TextAreaField(_l("Closed days (e.g. 2026-02-10, 2026-02-11)"), default="",
                                 validators=[Optional(), _dates])
    reminder_hours = IntegerField(_l("Remind the customer this many hours before"), default=24,
                                  validators=[NumberRange(0, 24 * 30)])
