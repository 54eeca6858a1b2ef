"""The customer's shop at ``/s/<store>/`` (or the store's own domain)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from ..auth import LoginForm, RegisterForm, rate_limited_login, safe_next, sign_out
from ..extensions import db
from ..models import Customer
from ..themes import render_store_template

bp = Blueprint("storefront", __name__, url_prefix="/s/<store>")


@bp.route("/login", methods=["GET", "POST"])
@rate_limited_login
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        customer = db.session.scalar(db.select(Customer).where(Customer.email == email))
        if customer is not None and customer.check_password(form.password.data):
            login_user(customer)
            return redirect(safe_next(url_for("storefront.home")))
        flash(_l("Wrong email or password."), "error")
    return render_store_template("storefront/login.html", form=form)


@bp.route("/register", methods=["GET", "POST"])
@rate_limited_login
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        taken = db.session.scalar(db.select(Customer.id).where(Customer.email == email))
        if taken:
            form.email.errors.append(_l("An account with this email exists; sign in instead."))
        else:
            customer = Customer(
                chain_id=g.chain.id, email=email, name=form.name.data.strip(),
                home_store_id=g.store.id,
            )
            customer.set_password(form.password.data)
            db.session.add(customer)
            db.session.commit()
            login_user(customer)
            return redirect(safe_next(url_for("storefront.home")))
    return render_store_template("storefront/register.html", form=form)


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("storefront.home"))


@bp.get("/account")
def account():
    if getattr(current_user, "kind", None) != "customer":
        return redirect(url_for("storefront.login", next=request.path))
    return render_store_template("storefront/account.html")


# The browse pages (home, categories, products, store information) register on ``bp``.
from . import browse  # noqa: E402,F401
from . import search  # noqa: E402,F401
