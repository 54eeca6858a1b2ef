"""Rules for a store's own fields, shared by the HQ forms and the CSV import.

Keeping them in one place means a store that the form refuses is also refused
by an import, with the same message.
"""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import SLUG_PATTERN, Store
from ..tenancy import any_chain

SLUG_RE = re.compile(SLUG_PATTERN)
#: Mainland landlines ("0571-8700 1001"), mobiles ("13800000000"), "+86 ..." forms.
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}[0-9]$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")

#: Longest values the columns hold.
MAX_LENGTHS = {"slug": 64, "name": 120, "address": 255, "city": 64, "phone": 32}
#: A DNS label: letters, digits and inner dashes, at most 63 characters.
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidValue(ValueError):
    """A user-supplied value broke a rule; the message is shown as is."""


def check_slug(value: str) -> str:
    if not SLUG_RE.match(value or ""):
        raise InvalidValue(
            _l("use lower-case letters, digits and dashes (not at the start or end)")
        )
    return value


def check_length(value: str, field: str) -> str:
    """``value`` stripped, refused when longer than the ``field`` column holds."""
    value = (value or "").strip()
    if len(value) > MAX_LENGTHS[field]:
        raise InvalidValue(_l("%(field)s is longer than %(limit)d characters",
                              field=field, limit=MAX_LENGTHS[field]))
    return value


def check_name(value: str, field: str = "name") -> str:
    """A required name (of a store, a chain): not empty, not longer than the column."""
    value = check_length(value, field)
    if not value:
        raise InvalidValue(_l("missing %(field)s", field=field))
    return value


def check_custom_domain(value: str | None, reserved: tuple[str, ...] = (),
                        base_domain: str | None = None) -> str | None:
    """A store's own host name (``shop.example.com``), normalised; None for none.

    Lower-case, no scheme, port or path; an internationalised name is stored in its
    ASCII (punycode) form, as browsers send it in the Host header. The platform's own
    hosts (``reserved``) and ``<anything>.<base_domain>`` are refused: requests for those
    never reach the custom-domain lookup.
    """
    value = (value or "").strip().rstrip(".").lower()
    if not value:
        return None
    try:
        ascii_name = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidValue(_l("not a domain name: %(value)s", value=value)) from None
    labels = ascii_name.split(".")
    if (len(ascii_name) > 253 or len(labels) < 2 or labels[-1].isdigit()
            or not all(_LABEL_RE.match(label) for label in labels)):
        raise InvalidValue(_l("not a domain name: %(value)s", value=value))
    base = (base_domain or "").lower()
    if ascii_name in reserved or (base and (ascii_name == base
                                            or ascii_name.endswith("." + base))):
        raise InvalidValue(_l("%(value)s is one of the platform's own addresses",
                              value=value))
    return ascii_name


def check_store_domain(value: str | None) -> str | None:
    """:func:`check_custom_domain` with this deployment's own hosts reserved."""
    config = current_app.config
    return check_custom_domain(value, tuple(config.get("PLATFORM_HOSTS", ())),
                               config.get("BASE_DOMAIN"))


def _taken(column, value, except_id: int | None) -> bool:
    # Slugs and domains are unique across the platform: look at every chain's stores.
    stmt = any_chain(db.select(Store.id).where(column == value))
    if except_id is not None:
        stmt = stmt.where(Store.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


def slug_taken(slug: str, except_id: int | None = None) -> bool:
    """Whether a store other than ``except_id``, of any chain, has ``slug``."""
    return _taken(Store.slug, slug, except_id)


def domain_taken(domain: str, except_id: int | None = None) -> bool:
    """Whether a store other than ``except_id``, of any chain, answers on ``domain``."""
    return _taken(Store.custom_domain, domain, except_id)


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
