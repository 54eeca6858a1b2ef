"""A simulated online gateway that behaves like WeChat Pay / Alipay notifications.

The customer is sent to a hosted page (``/s/<store>/pay/sandbox/<token>``)
with *Pay* and *Fail* buttons. The "gateway" then delivers a notification to
the store's callback URL (``/s/<store>/pay/sandbox/notify``): a JSON body and
three headers, ``X-Sandbox-Timestamp``, ``X-Sandbox-Nonce`` and
``X-Sandbox-Signature`` = hex HMAC-SHA256 over ``timestamp\\nnonce\\nbody``
with the store's merchant key. The callback refuses

* a wrong signature (forged),
* a timestamp more than :data:`MAX_AGE` away from now (stale),
* a nonce seen before (replayed), and
* an amount other than the payment's;

a genuine repeat (new nonce, same payment) changes nothing a second time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

import flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..extensions import db
from ..models import Payment, PaymentNotice
from ..plugins import PluginMeta, hookimpl

log = logging.getLogger(__name__)

meta = PluginMeta(
    name="sandbox", title=_l("Sandbox online payment"), version="1.0",
    description=_l("A simulated online gateway with signed, timestamped callbacks."),
    default_on=True,
)

MAX_AGE = timedelta(minutes=5)
CODE = "sandbox"


class NotificationRefused(Exception):
    """The callback is not accepted; the reason is safe to answer to the caller."""


def merchant_key(store_id: int) -> bytes:
    """The store's shared secret with the gateway (derived, so nothing to store)."""
    secret = flask.current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"sandbox-merchant:{store_id}".encode(), hashlib.sha256).digest()


def sign(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def build_notification(payment: Payment, status: str, amount_fen: int | None = None,
                       at=None, nonce: str | None = None) -> tuple[bytes, dict]:
    """What the gateway sends for ``payment``: ``(body, headers)``."""
    body = json.dumps({
        "out_trade_no": payment.token,
        "transaction_id": f"sbx{secrets.token_hex(8)}",
        "amount_fen": payment.amount_fen if amount_fen is None else amount_fen,
        "status": status,
    }, sort_keys=True).encode()
    timestamp = str(int((at or clock.now()).timestamp()))
    nonce = nonce or secrets.token_hex(16)
    headers = {
        "X-Sandbox-Timestamp": timestamp,
        "X-Sandbox-Nonce": nonce,
        "X-Sandbox-Signature": sign(merchant_key(payment.store_id), timestamp, nonce, body),
        "Content-Type": "application/json",
    }
    return body, headers


def handle_notification(store, body: bytes, headers) -> Payment:
    """Check and apply one notification; raises :class:`NotificationRefused`."""
    from ..services import orders

    timestamp = headers.get("X-Sandbox-Timestamp", "")
    nonce = headers.get("X-Sandbox-Nonce", "")
    signature = headers.get("X-Sandbox-Signature", "")
    if not (timestamp.isdigit() and 8 <= len(nonce) <= 64 and signature):
        raise NotificationRefused("missing signature headers")
    expected = sign(merchant_key(store.id), timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature):
        raise NotificationRefused("bad signature")
    age = abs(clock.now().timestamp() - int(timestamp))
    if age > MAX_AGE.total_seconds():
        raise NotificationRefused("stale notification")
    try:
        data = json.loads(body)
        token, amount, status = data["out_trade_no"], int(data["amount_fen"]), data["status"]
        transaction_id = str(data["transaction_id"])[:64]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotificationRefused("malformed body") from exc
    payment = db.session.scalar(
        select(Payment).where(Payment.token == token, Payment.store_id == store.id,
                              Payment.provider == CODE)
    )
    if payment is None:
        raise NotificationRefused("unknown payment")
    if amount != payment.amount_fen:
        log.warning("sandbox notification for %s with amount %s, expected %s",
                    token, amount, payment.amount_fen)
        raise NotificationRefused("amount mismatch")
    try:
        with orders.unit_of_work():
            db.session.add(PaymentNotice(chain_id=store.chain_id, store_id=store.id,
                                         provider=CODE, nonce=nonce))
            db.session.flush()
            if status == "SUCCESS":
                orders.confirm_payment(payment, amount, transaction_id)
            elif status == "FAIL":
                if payment.state == "pending":
                    payment.state = "failed"
            else:
                raise NotificationRefused("unknown status")
    except IntegrityError as exc:
        db.session.rollback()
        raise NotificationRefused("replayed notification") from exc
    return payment


class SandboxProvider:
    code = CODE
    label = _l("Online payment (sandbox)")
    online = True

    def start(self, order, payment):
        return flask.url_for("shop_orders.sandbox_page", store=order.store.slug,
                             token=payment.token)

    def refund(self, payment, amount_fen, reason):
        # A real gateway would be called here and could refuse; the sandbox always agrees.
        return f"sbx-refund-{secrets.token_hex(8)}"


@hookimpl
def shopbuilder_payment_providers():
    return [SandboxProvider()]
