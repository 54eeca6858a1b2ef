"""Settings and campaign forms.

Times are typed in the user's local time (the Babel timezone, Asia/Shanghai by
default) and stored in UTC. The variant and the stores are picked from lists
filled by the view; for a catalogue or a chain too large for a list, the view
shows a SKU or store-code text field instead and resolves it server-side.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone, to_utc
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Form,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
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
    return local_input(clock.now().replace(second=0, microsecond=0))


def _default_end():
    return _default_start() + timedelta(days=7)


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=120)])
    #: Choices are set by the view (product title, variant, SKU); a large catalogue
    #: uses ``sku`` instead.
    variant_id = SelectField(_l("Product"), coerce=int, choices=[], validate_choice=False,
                             validators=[Optional()])
    sku = StringField(_l("SKU"), validators=[Optional(), Length(max=64)])
    group_price = YuanField(_l("Group price (yuan)"), validators=[InputRequired()])
    leader_price = YuanField(_l("Leader price (yuan, optional)"), validators=[Optional()])
    group_size = IntegerField(_l("Group size"), default=3,
                              validators=[InputRequired(), NumberRange(min=2, max=50)])
    fill_hours = IntegerField(_l("Hours to fill a group"), default=24,
                              validators=[InputRequired(), NumberRange(min=1, max=720)])
    starts_at = DateTimeLocalField(_l("Starts (local time)"), default=_default_start,
                                   format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends (local time)"), default=_default_end,
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
    which_stores = RadioField(
        _l("Stores"), default="all",
        choices=[("all", _l("All stores")), ("chosen", _l("Only the stores chosen below"))],
        validators=[InputRequired()])
    #: Choices are the chain's stores, set by the view; a large chain uses ``store_codes``.
    store_ids = SelectMultipleField(_l("Chosen stores"), coerce=int, choices=[],
                                    validate_choice=False)
    store_codes = TextAreaField(_l("Chosen stores' address names (slugs), one per line"),
                                validators=[Optional(), Length(max=20000)])

    def validate_which_stores(self, field):
        chosen = bool(self.store_ids.data) or bool((self.store_codes.data or "").strip())
        if field.data == "chosen" and not chosen:
            raise ValidationError(_l("Choose at least one store, or choose all stores."))
        if field.data == "all" and chosen:
            raise ValidationError(_l("You chose some stores but also all stores: choose "
                                     "only the chosen stores, or clear the choice."))


class CampaignEditForm(FlaskForm):
    """The fields that can change while a campaign runs (see ``service.CampaignChanges``)."""

    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=120)])
    ends_at = DateTimeLocalField(_l("Ends (local time)"), format="%Y-%m-%dT%H:%M",
                                 validators=[InputRequired()])
    unit_cap = IntegerField(_l("Units per store"),
                            validators=[InputRequired(), NumberRange(min=1)])
    per_customer_limit = IntegerField(_l("Limit per customer"),
                                      validators=[InputRequired(), NumberRange(min=1, max=99)])
    per_order_limit = IntegerField(_l("Limit per order"),
                                   validators=[InputRequired(), NumberRange(min=1, max=99)])


def aware(value):
    """A local time typed in a form, as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return to_utc(value).replace(tzinfo=UTC)  # pytz: localize, never replace(tzinfo)
    return value.astimezone(UTC)


def local_input(value):
    """An aware UTC datetime as the naive local time a ``datetime-local`` input shows."""
    return to_user_timezone(value).replace(tzinfo=None)
