"""marshmallow's validation messages, translated for the people who read them.

A ``validation_failed`` problem lists each refused field with marshmallow's
English message, which a mini program shows to its customer. marshmallow has
no gettext hook, so each of its fixed messages and templates is matched here
and replaced by a msgid of the same English wording: English stays exactly what
marshmallow says, Chinese comes from the ``api`` catalogue. A message nobody
listed (a plugin's own) passes through unchanged.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

#: marshmallow's fixed messages (fields, schemas and the Email validator).
_FIXED = {
    "Missing data for required field.": _l("Missing data for required field."),
    "Field may not be null.": _l("Field may not be null."),
    "Invalid value.": _l("Invalid value."),
    "Not a valid integer.": _l("Not a valid integer."),
    "Not a valid number.": _l("Not a valid number."),
    "Number too large.": _l("Number too large."),
    "Special numeric values (nan or infinity) are not permitted.":
        _l("Special numeric values (nan or infinity) are not permitted."),
    "Not a valid string.": _l("Not a valid string."),
    "Not a valid utf-8 string.": _l("Not a valid utf-8 string."),
    "Not a valid boolean.": _l("Not a valid boolean."),
    "Not a valid email address.": _l("Not a valid email address."),
    "Not a valid mapping type.": _l("Not a valid mapping type."),
    "Not a valid list.": _l("Not a valid list."),
    "Invalid type.": _l("Invalid type."),
    "Invalid input type.": _l("Invalid input type."),
    "Unknown field.": _l("Unknown field."),
}


def _range(text: str) -> str:
    """A template's ``{name}`` as a named group (values never contain spaces)."""
    return "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\S+)", re.escape(text)) + "$"


#: marshmallow's templates (Range, Length, OneOf) -> the same wording with %(name)s.
_TEMPLATES = [
    (re.compile(_range("Must be greater than or equal to {min} and less than or equal to "
                       "{max}.")),
     lambda v: _("Must be greater than or equal to %(min)s and less than or equal to "
                 "%(max)s.", **v)),
    (re.compile(_range("Must be greater than or equal to {min}.")),
     lambda v: _("Must be greater than or equal to %(min)s.", **v)),
    (re.compile(_range("Must be less than or equal to {max}.")),
     lambda v: _("Must be less than or equal to %(max)s.", **v)),
    (re.compile(_range("Shorter than minimum length {min}.")),
     lambda v: _("Shorter than minimum length %(min)s.", **v)),
    (re.compile(_range("Longer than maximum length {max}.")),
     lambda v: _("Longer than maximum length %(max)s.", **v)),
    (re.compile(_range("Length must be between {min} and {max}.")),
     lambda v: _("Length must be between %(min)s and %(max)s.", **v)),
    (re.compile(_range("Length must be {equal}.")),
     lambda v: _("Length must be %(equal)s.", **v)),
    (re.compile(r"^Must be one of: (?P<choices>.+)\.$"),
     lambda v: _("Must be one of: %(choices)s.", **v)),
]


def translate(message: str) -> str:
    """``message`` in the request's language when it is one of marshmallow's."""
    fixed = _FIXED.get(message)
    if fixed is not None:
        return str(fixed)
    for pattern, render in _TEMPLATES:
        match = pattern.match(message)
        if match:
            return render(match.groupdict())
    return message
