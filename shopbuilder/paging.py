"""Page numbers from the query string, for every paginated console and shop page."""

from __future__ import annotations

from flask import request

#: Highest page anyone asks for on purpose; beyond it the database would be asked for an
#: OFFSET it cannot bind (``?page=99999999999999999999`` once answered 500).
MAX_PAGE = 10_000


def page_arg(name: str = "page") -> int:
    """``?page=`` as an int in 1..MAX_PAGE; garbage is page 1, a huge number the last allowed."""
    raw = (request.args.get(name) or "").strip()
    if not raw.isdigit():
        return 1
    return max(1, min(int(raw[:12]), MAX_PAGE))
