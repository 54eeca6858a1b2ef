"""Rules for a store's own fields, shared by the HQ forms and the CSV import.

Keeping them in one place means a store that the form refuses is also refused
by an import, with the same message.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from ..models import SLUG_PATTERN

SLUG_RE = re.compile(SLUG_PATTERN)
#: Mainland landlines ("0571-8700 1001"), mobiles ("13800000000"), "+86 ..." forms.
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}[0-9]$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")

#: Longest values the columns hold.
MAX_LENGTHS = {"slug": 64, "name": 120, "address": 255, "city": 64, "phone": 32}


class InvalidValue(ValueError):
    """A user-supplied value broke a rule; the message is shown as is."""


def check_slug(value: str) -> str:
    if not SLUG_RE.match(value or ""):
        raise InvalidValue(
            _l("use lower-case letters, digits and dashes (not at the start or end)")
        )
    return value


def check_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not PHONE_RE.match(value):
        raise InvalidValue(_l("not a phone number: %(value)s", value=value))
    return value


def check_coordinate(value, low: float, high: float, name: str) -> float | None:
    """Parse a latitude or longitude; ``None`` for an empty value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        message = _l("%(name)s is not a number: %(value)s", name=name, value=value)
        raise InvalidValue(message) from None
    if number != number or not low <= number <= high:  # NaN fails the first test
        raise InvalidValue(
            _l("%(name)s must be between %(low)s and %(high)s",
               name=name, low=f"{low:g}", high=f"{high:g}")
        )
    return number


def check_lat(value) -> float | None:
    return check_coordinate(value, -90.0, 90.0, "lat")


def check_lng(value) -> float | None:
    return check_coordinate(value, -180.0, 180.0, "lng")


def _day_range(text: str) -> list[str]:
    text = text.strip().lower()
    if text in ("daily", "every day", "all"):
        return list(DAYS)
    days: list[str] = []
    for part in text.split(","):
        part = part.strip()
        start, _, end = part.partition("-")
        if start not in DAYS or (end and end not in DAYS):
            raise InvalidValue(_l("unknown day: %(value)s", value=part))
        first, last = DAYS.index(start), DAYS.index(end or start)
        if last < first:
            raise InvalidValue(_l("day range runs backwards: %(value)s", value=part))
        days.extend(DAYS[first : last + 1])
    return days


def parse_opening_hours(text: str) -> dict:
    """``"mon-fri 09:00-21:00\\nsat,sun 10:00-14:00, 15:00-22:00"`` -> the model's dict.

    One line per group of days; several ranges per line are separated by commas.
    An empty text means "unknown" (an empty dict).
    """
    hours: dict[str, list[list[str]]] = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        days_text, _, ranges_text = line.partition(" ")
        days = _day_range(days_text)
        ranges = []
        for chunk in ranges_text.split(","):
            chunk = chunk.strip()
            if chunk.lower() == "closed":
                continue
            opens, _, closes = chunk.partition("-")
            opens, closes = opens.strip(), closes.strip()
            if not (_TIME_RE.match(opens) and _TIME_RE.match(closes)) or opens >= closes:
                raise InvalidValue(_l("not an opening time range: %(value)s", value=chunk or line))
            ranges.append([opens, closes])
        for day in days:
            hours[day] = ranges
    return {day: hours[day] for day in DAYS if day in hours}


def format_opening_hours(hours: dict) -> str:
    """The text form of :func:`parse_opening_hours`, grouping days with equal hours."""
    lines: list[str] = []
    group: list[str] = []
    previous = None

    def flush():
        if group:
            label = group[0] if len(group) == 1 else f"{group[0]}-{group[-1]}"
            ranges = ", ".join(f"{a}-{b}" for a, b in previous) or "closed"
            lines.append(f"{label} {ranges}")

    for day in DAYS:
        if day not in (hours or {}):
            flush()
            group, previous = [], None
            continue
        if hours[day] != previous:
            flush()
            group, previous = [], hours[day]
        group.append(day)
    flush()
    return "\n".join(lines)
