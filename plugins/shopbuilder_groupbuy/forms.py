"""Settings and campaign forms."""

from __future__ import annotations

from datetime import UTC, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Form,
    IntegerField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from shopbuilder import clock
from shopbuilder.money import parse_yuan


class GroupBuySettings(Form):
    """Per-store settings (HQ may set and lock them for its stores)."""

    seat_hold_minutes = IntegerField(
        _l("Minutes a seat is held while the customer pays"), default=15,
        validators=[InputRequired(), NumberRange(min=2, max=60)],
    )


class YuanField(StringField):
    """An amount typed in yuan (``12.8``), kept as integer fen in ``fen``."""

    fen: int | None = None

    def pre_validate(self, form):
        self.fen = None
        text = (self.data or "").strip()
        if not text:
            return
        try:
            self.fen = parse_yuan(text)
        except ValueError as exc:
            raise ValidationError(_l("Enter an amount like 12.80.")) from exc


def _default_start():
    return clock.now().replace(second=0, microsecond=0, tzinfo=None)


def _default_end():
    return _default_start() + timedelta(days=7)


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=120)])
    variant_id = IntegerField(_l("Variant id"), validators=[InputRequired()])
    group_price = YuanField(_l("Group price (yuan)"), validators=[InputRequired()])
    leader_price = YuanField(_l("Leader price (yuan, optional)"), validators=[Optional()])
    group_size = IntegerField(_l("Group size"), default=3,
                              validators=[InputRequired(), NumberRange(min=2, max=50)])
    fill_hours = IntegerField(_l("Hours to fill a group"), default=24,
                              validators=[InputRequired(), NumberRange(min=1, max=720)])
    starts_at = DateTimeLocalField(_l("Starts (UTC)"), default=_default_start,
                                   format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends (UTC)"), default=_default_end,
                                 format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    unit_cap = IntegerField(_l("Units per store"), default=10,
                            validators=[InputRequired(), NumberRange(min=1)])
    per_customer_limit = IntegerField(_l("Limit per customer"), default=1,
                                      validators=[InputRequired(), NumberRange(min=1, max=99)])
    per_order_limit = IntegerField(_l("Limit per order"), default=1,
                                   validators=[InputRequired(), NumberRange(min=1, max=99)])
    virtual_percent = IntegerField(
        _l("Virtual completion: percent of the size that completes a group at its deadline "
           "(0 = off)"), default=0,
        validators=[InputRequired(), NumberRange(min=0, max=100)])
    commission_allowed = BooleanField(_l("Group orders earn distribution commission"),
                                      default=True)


class HQCampaignForm(CampaignForm):
    all_stores = BooleanField(_l("All stores"), default=True)
    store_ids = SelectMultipleField(_l("Or these stores"), coerce=int, choices=[],
                                    validate_choice=False)


def aware(value):
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
