"""Per-store settings: field names are the keys, field defaults the platform defaults."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Form, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange


class GiftNoteSettings(Form):
    max_length = IntegerField(
        _l("Longest note (characters)"), default=120,
        validators=[InputRequired(), NumberRange(min=10, max=200)],
    )
    prompt = StringField(
        _l("Prompt shown to customers"), default="Add a gift note to your order",
        validators=[InputRequired(), Length(max=60)],
    )
