"""The one source of "now", timezone-aware UTC.

Deadlines, rate windows and timestamps all read :func:`now`, so tests can move
time forward with :func:`frozen` instead of sleeping.
"""

from __future__ import annotations

import contextlib
import contextvars
from datetime import UTC, datetime, timedelta

_offset: contextvars.ContextVar[timedelta] = contextvars.ContextVar(
    "clock_offset", default=timedelta(0)
)
_fixed: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "clock_fixed", default=None
)


def now() -> datetime:
    fixed = _fixed.get()
    if fixed is not None:
        return fixed
    return datetime.now(UTC) + _offset.get()


@contextlib.contextmanager
def frozen(at: datetime):
    """Make :func:`now` return ``at`` (aware) until the block ends."""
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    token = _fixed.set(at)
    try:
        yield
    finally:
        _fixed.reset(token)


def travel(delta: timedelta) -> None:
    """Move the clock of this context forward by ``delta`` (tests only)."""
    fixed = _fixed.get()
    if fixed is not None:
        _fixed.set(fixed + delta)
    else:
        _offset.set(_offset.get() + delta)
