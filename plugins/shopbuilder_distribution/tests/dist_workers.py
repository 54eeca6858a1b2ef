"""Run in spawned processes by the race tests (a fresh app and engine each)."""

from __future__ import annotations

import os
import time

from shopbuilder import create_app, tenancy
from shopbuilder.extensions import db
from shopbuilder.testing import make_test_config

_app = None


def init(db_url: str, instance_path: str) -> None:
    global _app
    os.environ["SHOPBUILDER_INSTANCE_PATH"] = instance_path
    _app = create_app(make_test_config(db_url, instance_path))


def _retrying(work):
    from shopbuilder_distribution import service

    last = None
    with _app.test_request_context():
        for _attempt in range(40):
            try:
                with tenancy.unscoped():
                    return work(service)
            except service.DistributionError:
                db.session.rollback()
                return "refused"
            except Exception as exc:  # a busy SQLite file or a deadlock victim: retry
                db.session.rollback()
                last = exc
                time.sleep(0.05)
            finally:
                db.session.remove()
    return f"error: {last!r}"


def withdraw(args) -> str:
    """Ask to withdraw ``amount``: ``ok`` or ``refused``."""
    distributor_id, amount, start_at = args
    from shopbuilder_distribution.models import Distributor

    while time.time() < start_at:
        time.sleep(0.001)

    def work(service):
        service.request_withdrawal(db.session.get(Distributor, distributor_id), amount)
        return "ok"

    return _retrying(work)


def pay_out(args) -> str:
    """HQ marks the same withdrawal paid from two windows: ``ok`` or ``already``."""
    withdrawal_id, start_at = args
    from shopbuilder_distribution.models import Withdrawal

    while time.time() < start_at:
        time.sleep(0.001)

    def work(service):
        row = db.session.get(Withdrawal, withdrawal_id)
        return "ok" if service.decide_withdrawal(row, True, "staff:1", "BANK-1") else "already"

    return _retrying(work)
