"""HQ console forms. The field rules live in :mod:`shopbuilder.services.stores`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ..services import stores as rules


def _rule(check):
    """Turn a rule from the stores service into a WTForms validator."""

    def validator(form, field):
        try:
            check(field.data)
        except rules.InvalidValue as exc:
            raise ValidationError(str(exc)) from exc

    return validator


class StoreForm(FlaskForm):
    slug = StringField(
        _l("Address name (slug)"),
        validators=[DataRequired(), Length(max=64), _rule(rules.check_slug)],
        description=_l("Part of the shop's web address: /s/<slug>/"),
    )
    name = StringField(_l("Store name"), validators=[DataRequired(), Length(max=120)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=64)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=255)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32),
                                                 _rule(rules.check_phone)])
    lat = StringField(_l("Latitude"), validators=[_rule(rules.check_lat)])
    lng = StringField(_l("Longitude"), validators=[_rule(rules.check_lng)])
    opening_hours = TextAreaField(
        _l("Opening hours"),
        validators=[_rule(rules.parse_opening_hours)],
        description=_l('One line per days, e.g. "mon-fri 09:00-21:00" or '
                       '"sat,sun 10:00-14:00, 15:00-22:00".'),
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    custom_domain = StringField(
        _l("Own domain"),
        validators=[Optional(), Length(max=253), _rule(rules.check_store_domain)],
        description=_l("Optional, e.g. shop.example.com. Point its DNS at this site first; "
                       "leave empty to use the platform's address only."),
    )

    def validate_lng(self, field):
        if bool((self.lat.data or "").strip()) != bool((field.data or "").strip()):
            raise ValidationError(_l("Give both latitude and longitude, or neither."))


class StaffForm(FlaskForm):
    """A manager or clerk account: a new user with a first password, or an existing one."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=255)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = RadioField(
        _l("Role"),
        choices=[("manager", _l("Store manager")), ("clerk", _l("Clerk"))],
        default="manager",
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(min=8, max=128)],
        description=_l("Optional, for a new account; without one they get an invitation link. "
                       "Someone who already has an account keeps their own password."),
    )


class ConfirmForm(FlaskForm):
    """An empty form: its CSRF token is the confirmation of a destructive step."""


class ImportUploadForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(), FileAllowed(["csv", "txt"], _l("Upload a .csv file."))],
    )


class ImportConfirmForm(FlaskForm):
    upload = HiddenField(validators=[DataRequired()])


class StoreFilterForm(FlaskForm):
    """The search bar of the store list (GET, so no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"))
    city = SelectField(_l("City"), choices=[], validate_choice=False)
    status = SelectField(
        _l("Status"),
        choices=[("", _l("Any status")), ("active", _l("Active")),
                 ("suspended", _l("Suspended"))],
        validate_choice=False,
    )
