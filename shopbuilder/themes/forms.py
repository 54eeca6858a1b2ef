"""Settings forms generated from a theme's schema, and the colour contrast check.

Themes are installed by the operator, but their settings are typed in by store
managers: every value is validated here (colours are ``#rrggbb`` and must keep
WCAG AA contrast with the text drawn on them, selects and sections only take
declared choices, images go through :func:`shopbuilder.media.save_image`).
"""

from __future__ import annotations

import re

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import ColorInput

from ..media import ImageRejected, save_image

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_NORMAL_TEXT = 4.5


def localized(value, fallback: str = "") -> str:
    """A theme string: plain text, or ``{en = "...", zh_CN = "..."}`` picked by locale."""
    if isinstance(value, dict):
        locale = get_locale()
        # Babel names zh_CN "zh_Hans_CN"; theme authors write "zh_CN".
        keys = (str(locale), f"{locale.language}_{locale.territory}", locale.language) \
            if locale is not None else ()
        for key in (*keys, "en"):
            if key in value:
                return str(value[key])
        return str(next(iter(value.values()), fallback))
    return str(value) if value not in (None, "") else fallback


def _channel(c: float) -> float:
    c = c / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colour_validator(setting):
    def check(form, field):
        value = (field.data or "").strip()
        if not _COLOUR.match(value):
            raise ValidationError(_l("Enter a colour like #1a2b3c."))
        if setting.contrast_with:
            ratio = contrast_ratio(value, setting.contrast_with)
            if ratio < AA_NORMAL_TEXT:
                raise ValidationError(_l(
                    "Too little contrast with %(other)s (%(ratio)s:1, at least 4.5:1 is needed "
                    "so that everyone can read it).",
                    other=setting.contrast_with, ratio=f"{ratio:.1f}",
                ))
    return check


def section_field_name(setting, choice: str) -> str:
    return f"{setting.key}__{choice}"


def lock_field_name(setting) -> str:
    return f"{setting.key}__lock"


def build_form(settings, values: dict, labels: dict, locks=None, **form_kwargs):
    """A FlaskForm class for ``settings`` filled with ``values``; instantiated and returned.

    With ``locks`` (HQ's form: the keys locked now), every setting also gets a "lock for
    every store" checkbox named :func:`lock_field_name`.
    """

    class ThemeSettingsForm(FlaskForm):
        pass

    data = {}
    for s in settings:
        if locks is not None:
            setattr(ThemeSettingsForm, lock_field_name(s),
                    BooleanField(_l("Lock for every store")))
            data[lock_field_name(s)] = s.key in locks
        label = localized(s.label, s.key)
        description = localized(s.help)
        if s.type == "colour":
            field = StringField(label, description=description, widget=ColorInput(),
                                validators=[_colour_validator(s)])
            data[s.key] = values.get(s.key) or s.default
        elif s.type == "text":
            field = StringField(label, description=description,
                                validators=[Optional(), Length(max=s.max_length)])
            data[s.key] = values.get(s.key) or ""
        elif s.type == "boolean":
            field = BooleanField(label, description=description)
            data[s.key] = bool(values.get(s.key))
        elif s.type == "select":
            field = SelectField(label, description=description, choices=[
                (c, localized(labels.get(c), c)) for c in s.choices
            ])
            data[s.key] = values.get(s.key) or s.default
        elif s.type == "image":
            field = FileField(label, description=description or _l(
                "PNG, JPEG, WebP or GIF, at most 2 MB."))
            setattr(ThemeSettingsForm, f"{s.key}__remove", BooleanField(_l("Remove")))
        elif s.type == "sections":
            current = list(values.get(s.key) or ())
            positions = [("", _l("Hidden"))] + [
                (str(i), str(i)) for i in range(1, len(s.choices) + 1)
            ]
            for choice in s.choices:
                name = section_field_name(s, choice)
                setattr(ThemeSettingsForm, name, SelectField(
                    localized(labels.get(choice), choice), choices=positions, validate_choice=True,
                ))
                data[name] = str(current.index(choice) + 1) if choice in current else ""
            continue
        else:  # pragma: no cover - the schema loader refuses unknown types
            continue
        setattr(ThemeSettingsForm, s.key, field)
    return ThemeSettingsForm(data=data, **form_kwargs)


def form_values(form, settings, current: dict) -> dict:
    """The values the form asks for; images are stored now (by content hash, so harmless)."""
    result = {}
    for s in settings:
        if s.type == "sections":
            picked = []
            for index, choice in enumerate(s.choices):
                position = getattr(form, section_field_name(s, choice)).data
                if position:
                    picked.append((int(position), index, choice))
            result[s.key] = [choice for _p, _i, choice in sorted(picked)]
        elif s.type == "image":
            field = getattr(form, s.key)
            if getattr(form, f"{s.key}__remove").data:
                result[s.key] = None
            elif field.data and getattr(field.data, "filename", ""):
                try:
                    result[s.key] = save_image(field.data.stream, s.max_width, s.max_height)
                except ImageRejected as exc:
                    field.errors = [*field.errors, str(exc)]
                    raise
            else:
                result[s.key] = current.get(s.key)
        elif s.type == "colour":
            result[s.key] = getattr(form, s.key).data.strip().lower()
        elif s.type == "text":
            result[s.key] = (getattr(form, s.key).data or "").strip()
        else:
            result[s.key] = getattr(form, s.key).data
    return result
