"""Pickup time slots: built from the store's opening hours, booked race-free.

A slot exists only as arithmetic on ``store.opening_hours`` and the plugin's
settings (length, capacity, preparation lead time, days ahead, closed dates);
a :class:`~.models.PickupSlot` row appears the first time someone books it.
Booking is ``INSERT .. ON CONFLICT DO NOTHING`` followed by one conditional
``UPDATE .. SET booked = booked + 1 WHERE booked < capacity``: the database
checks and counts in one step, so of two customers racing for the last place
exactly one gets it (PostgreSQL re-checks the WHERE after the first commits;
SQLite serialises writers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from shopbuilder import clock
from shopbuilder.extensions import db
from shopbuilder.plugins import plugin_settings
from shopbuilder.services import orders

from .models import PickupSlot

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KEY_FORMAT = "%Y%m%dT%H%MZ"

#: Platform defaults of the plugin's settings (the settings form declares the same).
DEFAULTS = {
    "slot_minutes": 30,
    "capacity": 10,
    "lead_minutes": 60,
    "days_ahead": 3,
    "closed_dates": "",
    "reminder_hours": 24,
}


def local_zone(store=None) -> ZoneInfo:
    """The time zone of a store's opening hours, slots and days.

    The store's own ``timezone`` where it has one, else the deployment's
    ``BABEL_DEFAULT_TIMEZONE`` (``Asia/Shanghai`` by default), the zone the
    core shows times in; never a zone written into the plugin.
    """
    name = getattr(store, "timezone", None) or current_app.config.get("BABEL_DEFAULT_TIMEZONE")
    return ZoneInfo(name or "UTC")


def config(store) -> dict:
    """The plugin's settings for ``store``, plus ``pickup_days`` from the core's deadlines.

    How long a ready order waits is the core setting ``deadlines.pickup_days``
    (the one HQ sets for every pickup, with or without this plugin), so there is
    one number: the plugin expires the order at that time, the core's own
    deadline is moved far behind it (``service.SAFETY_NET``).
    """
    values = {**DEFAULTS, **plugin_settings("pickup", store)}
    for key, default in DEFAULTS.items():
        if isinstance(default, int):
            try:
                values[key] = int(values[key])
            except (TypeError, ValueError):
                values[key] = default
    try:
        values["pickup_days"] = int(orders.deadline_values(store)["pickup_days"])
    except (KeyError, TypeError, ValueError):
        values["pickup_days"] = orders.DEADLINE_DEFAULTS["pickup_days"]
    return values


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime
    booked: int
    capacity: int
    zone: tzinfo = UTC

    @property
    def key(self) -> str:
        return self.start.astimezone(UTC).strftime(KEY_FORMAT)

    @property
    def full(self) -> bool:
        return self.booked >= self.capacity

    @property
    def left(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)


def parse_key(key: str | None) -> datetime | None:
    try:
        return datetime.strptime(key or "", KEY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def closed_dates(text: str) -> set[date]:
    """``2026-02-10, 2026-02-11`` -> dates; unreadable parts are ignored."""
    found = set()
    for part in (text or "").replace("\n", ",").replace(" ", ",").split(","):
        try:
            found.add(date.fromisoformat(part.strip()))
        except ValueError:
            continue
    return found


def _clock_time(text: str) -> time | None:
    if text in ("24:00", "24:00:00"):
        return time(23, 59, 59)
    try:
        return time.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def opening_periods(store, day: date) -> list[tuple[datetime, datetime]]:
    """The store's opening periods on local ``day`` as aware local datetimes."""
    periods, zone = [], local_zone(store)
    for pair in (store.opening_hours or {}).get(DAY_KEYS[day.weekday()], []) or []:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        opens, closes = _clock_time(pair[0]), _clock_time(pair[1])
        if opens is None or closes is None or closes <= opens:
            continue
        periods.append((datetime.combine(day, opens, zone), datetime.combine(day, closes, zone)))
    return periods


def is_open(store, at: datetime | None = None) -> bool | None:
    """Whether the store is open at ``at`` (None: its hours are unknown)."""
    if not store.opening_hours:
        return None
    at = (at or clock.now()).astimezone(local_zone(store))
    if at.date() in closed_dates(config(store)["closed_dates"]):
        return False
    return any(start <= at < end for start, end in opening_periods(store, at.date()))


def candidate_starts(store, now: datetime | None = None, cfg: dict | None = None):
    """(start, end) of every slot a customer could pick now, earliest first."""
    cfg = cfg or config(store)
    now = now or clock.now()
    length = timedelta(minutes=max(cfg["slot_minutes"], 5))
    earliest = now + timedelta(minutes=max(cfg["lead_minutes"], 0))
    closed = closed_dates(cfg["closed_dates"])
    today = now.astimezone(local_zone(store)).date()
    for offset in range(max(cfg["days_ahead"], 0) + 1):
        day = today + timedelta(days=offset)
        if day in closed:
            continue
        for opens, closes in opening_periods(store, day):
            start = opens
            while start + length <= closes:
                if start >= earliest:
                    yield start.astimezone(UTC), (start + length).astimezone(UTC)
                start += length


def available_slots(store, now: datetime | None = None) -> list[Slot]:
    """Every slot from now on, with how many places are taken (full ones included)."""
    cfg = config(store)
    starts = list(candidate_starts(store, now, cfg))
    if not starts:
        return []
    rows = db.session.execute(
        select(PickupSlot.starts_at, PickupSlot.booked).where(
            PickupSlot.store_id == store.id,
            PickupSlot.starts_at >= starts[0][0], PickupSlot.starts_at <= starts[-1][0],
        )
    ).all()
    booked = {row.starts_at: row.booked for row in rows}
    zone = local_zone(store)
    return [Slot(start, end, booked.get(start, 0), cfg["capacity"], zone)
            for start, end in starts]


def offers_slots(store, now: datetime | None = None) -> bool:
    """Whether the store's hours give any slot from now on (full ones count)."""
    return next(candidate_starts(store, now), None) is not None


class LazySlots(Sequence):
    """:func:`available_slots`, worked out only when someone reads them.

    Placing an order lists the fulfilment options to check the chosen one, but
    only the checkout page shows the slots; working them out costs more than
    the rest of the pickup option.
    """

    def __init__(self, store, now: datetime | None = None):
        self._args = (store, now)
        self._slots: list[Slot] | None = None

    def _loaded(self) -> list[Slot]:
        if self._slots is None:
            self._slots = available_slots(*self._args)
        return self._slots

    def __getitem__(self, index):
        return self._loaded()[index]

    def __len__(self) -> int:
        return len(self._loaded())


def find_slot(store, key: str | None, now: datetime | None = None) -> Slot | None:
    """The slot ``key`` names if a customer may still choose it, with its bookings."""
    start = parse_key(key)
    if start is None:
        return None
    cfg = config(store)
    end = next((e for s, e in candidate_starts(store, now, cfg) if s == start), None)
    if end is None:
        return None
    booked = db.session.scalar(
        select(PickupSlot.booked).where(PickupSlot.store_id == store.id,
                                        PickupSlot.starts_at == start)
    )
    return Slot(start, end, booked or 0, cfg["capacity"])


def book(store, starts_at: datetime, capacity: int) -> bool:
    """Take one place in the slot starting at ``starts_at``; False when it is full.

    Runs in the caller's transaction (the order's), so a rolled-back order
    gives its place back.
    """
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    db.session.execute(
        insert(PickupSlot.__table__)
        .values(chain_id=store.chain_id, store_id=store.id, starts_at=starts_at, booked=0)
        .on_conflict_do_nothing(index_elements=["store_id", "starts_at"])
    )
    taken = db.session.execute(
        update(PickupSlot)
        .where(PickupSlot.store_id == store.id, PickupSlot.starts_at == starts_at,
               PickupSlot.booked < capacity)
        .values(booked=PickupSlot.booked + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return taken == 1


def release(store_id: int, starts_at: datetime) -> None:
    db.session.execute(
        update(PickupSlot)
        .where(PickupSlot.store_id == store_id, PickupSlot.starts_at == starts_at,
               PickupSlot.booked > 0)
        .values(booked=PickupSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )
