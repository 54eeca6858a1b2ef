"""Signing in: a chain customer's email and password for an expiring bearer token."""

from __future__ import annotations

from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..extensions import db
from ..models import Customer
from . import bp
from .core import bearer_token, current_customer, operation, rate_limit_now
from .problems import problem
from .schemas import CustomerSchema, RegisterRequest, TokenRequest, TokenResponse
from .tokens import issue_token, revoke_token


def token_view(customer: Customer, token: str, row) -> dict:
    return {
        "access_token": token, "token_type": "Bearer",
        "expires_at": row.expires_at.isoformat(),
        "expires_in": int((row.expires_at - clock.now()).total_seconds()),
        "customer": customer_view(customer),
    }


def customer_view(customer: Customer) -> dict:
    return {"id": customer.id, "name": customer.name, "email": customer.email,
            "phone": customer.phone}


@bp.post("/stores/<store>/auth/token")
@operation(
    "Sign in: exchange a customer's email and password for a bearer token", tags=["account"],
    body=TokenRequest, response=TokenResponse, status=201,
    description="The token works at every store of this store's chain, never at another "
                "chain's, until `expires_at` or until it is revoked. Send it as "
                "`Authorization: Bearer <token>`.",
    responses={401: "Wrong email or password (`invalid_credentials`)."},
)
def sign_in(body):
    rate_limit_now(current_app.config["LOGIN_RATE_LIMIT"], "login")
    email = body["email"].strip().lower()
    customer = db.session.scalar(db.select(Customer).where(Customer.email == email))
    if customer is None or not customer.check_password(body["password"]):
        raise problem("invalid_credentials")
    token, row = issue_token(customer, g.store)
    return token_view(customer, token, row)


@bp.post("/stores/<store>/auth/register")
@operation(
    "Become a customer of this store's chain, and get a bearer token", tags=["account"],
    body=RegisterRequest, response=TokenResponse, status=201,
    description="The new member belongs to the chain (every store) and to this store as "
                "home store.",
    responses={409: "An account with this email exists in the chain; sign in (`conflict`)."},
)
def register(body):
    rate_limit_now(current_app.config["LOGIN_RATE_LIMIT"], "login")
    email = body["email"].strip().lower()
    if db.session.scalar(db.select(Customer.id).where(Customer.email == email)) is not None:
        raise problem("conflict", _("An account with this email exists; sign in instead."))
    customer = Customer(chain_id=g.chain.id, email=email, name=body["name"].strip(),
                        phone=body["phone"].strip(), home_store_id=g.store.id)
    customer.set_password(body["password"])
    db.session.add(customer)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise problem(
            "conflict", _("An account with this email exists; sign in instead.")) from None
    token, row = issue_token(customer, g.store)
    return token_view(customer, token, row)


@bp.delete("/stores/<store>/auth/token")
@operation("Sign out: revoke the bearer token of this request", tags=["account"], auth=True,
           status=204, responses={204: "Revoked."})
def sign_out():
    revoke_token(bearer_token())
    return "", 204


@bp.get("/stores/<store>/me")
@operation("The signed-in customer", tags=["account"], auth=True, response=CustomerSchema)
def me():
    return customer_view(current_customer())
