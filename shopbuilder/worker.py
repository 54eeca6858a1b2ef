"""The worker: ``flask --app wsgi shopbuilder worker`` (a loop) and ``... tick`` (once, for cron).

Both call :func:`shopbuilder.services.deadlines.tick`, which is idempotent and
safe to run in several processes at once; cron, Celery beat or systemd timers
may run ``tick`` instead of the loop.
"""

from __future__ import annotations

import logging
import signal
import time

import click

from .cli import command
from .extensions import db
from .services.deadlines import tick

log = logging.getLogger(__name__)


def run_once() -> dict:
    try:
        return dict(tick())
    finally:
        db.session.remove()


@command("tick")
def tick_command():
    """Apply every deadline that is due, once."""
    counts = run_once()
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing due")


@command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between ticks.")
def worker_command(interval):
    """Apply due deadlines every INTERVAL seconds until stopped."""
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"Worker started; ticking every {interval:g}s.")
    while not stopping:
        try:
            counts = run_once()
            if any(k != "taken" for k in counts):
                log.info("tick: %s", counts)
        except Exception:
            log.exception("tick failed; retrying")
        slept = 0.0
        while slept < interval and not stopping:
            time.sleep(0.2)
            slept += 0.2
    click.echo("Worker stopped.")
