"""``flask --app wsgi shopbuilder ledger ...``: check the settlement ledger."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from .cli import CORE_COMMANDS, fail
from .extensions import db
from .models import Chain
from .services import ledger as ledger_service

#: An AppGroup: its commands run in an application context however they are invoked.
ledger_group = AppGroup("ledger", help="The settlement ledger.")


CORE_COMMANDS.append(ledger_group)


@ledger_group.command("verify")
@click.option("--chain", "chain_slug", default=None, help="Only this chain (default: all).")
@click.option(
    "--anchor", "anchors", multiple=True, metavar="SEQ:HASH",
    help="An entry's hash recorded earlier (e.g. from a previous run's output); repeatable.",
)
def verify_command(chain_slug, anchors):
    """Walk each chain's hash chain; print OK or name the first altered or missing entry.

    Exits 1 when any chain fails, so cron and CI can alert on it.
    """
    parsed = {}
    for anchor in anchors:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            fail(f"--anchor wants SEQ:HASH (a sha256 in hex), not {anchor!r}")
        parsed[int(seq)] = digest.lower()
    query = db.select(Chain).order_by(Chain.slug)
    if chain_slug:
        query = query.where(Chain.slug == chain_slug)
    chains = db.session.scalars(query).all()
    if chain_slug and not chains:
        fail(f"no chain '{chain_slug}'")
    if parsed and len(chains) != 1:
        fail("--anchor needs --chain")
    failed = 0
    for chain in chains:
        report = ledger_service.verify(chain.id, anchors=parsed)
        if report.ok:
            click.echo(
                f"{chain.slug}: OK, {report.entries} entries in {report.transactions} "
                f"transactions; head #{report.head_seq} {report.head_hash}"
            )
        else:
            failed += 1
            click.echo(f"{chain.slug}: FAILED at {report.problem}", err=True)
    if failed:
        sys.exit(1)
