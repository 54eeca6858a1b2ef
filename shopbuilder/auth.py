"""Signing in, and who may reach what.

One Flask-Login session holds either a staff ``User`` (id ``u<n>``) or a chain's
``Customer`` (id ``c<n>``). A customer counts as signed in only inside their
own chain, so a session cookie shared by two chains on one host never lets a
member of one into the other.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from . import tenancy
from .extensions import db, limiter, login_manager
from .models import Customer, StaffRole, User


class LoginForm(FlaskForm):
    # No format check on sign-in: an unknown address simply does not match.
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class RegisterForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(
        _l("Repeat password"), validators=[EqualTo("password", _l("Passwords differ."))]
    )


@login_manager.user_loader
def load_account(account_id: str):
    customer_id = Customer.id_in(account_id)
    if customer_id is not None:
        chain = g.get("chain")
        if chain is None:
            return None
        # Usually already in the session: tenancy.load_store reads the visitor with the store.
        with tenancy.unscoped():
            customer = db.session.get(Customer, customer_id)
        return customer if customer is not None and customer.chain_id == chain.id else None
    kind, number = account_id[:1], account_id[1:]
    if kind == "u" and number.isdigit():
        user = db.session.get(User, int(number))
        return user if user is not None and user.active else None
    return None


def login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def rate_limited_login(view):
    """Limit sign-in attempts per address (memory, or Redis when configured)."""
    return limiter.limit(login_limit, methods=["POST"])(view)


def safe_next(default: str) -> str:
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def staff_login(title: str, allowed, default_next: str, template: str = "auth/login.html"):
    """Render and check a staff sign-in form; ``allowed(user)`` says who may enter here."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is not None and user.active and user.check_password(form.password.data):
            chain = g.get("chain")
            if chain is not None:
                join_chain(user, chain.id)
            if allowed(user):
                login_user(user)
                return redirect(safe_next(default_next))
            flash(_l("This account has no access here."), "error")
        else:
            flash(_l("Wrong email or password."), "error")
    return render_template(template, form=form, title=title)


def roles_of(user, chain_id: int) -> list[StaffRole]:
    """The roles ``user`` holds in the chain (store roles limited by the request scope).

    Pending roles (given to someone who has not joined yet) grant nothing.
    """
    if user is None or getattr(user, "kind", None) != "staff":
        return []
    stmt = db.select(StaffRole).where(StaffRole.user_id == user.id, StaffRole.chain_id == chain_id,
                                      StaffRole.pending.is_(False))
    return list(db.session.scalars(stmt))


def join_chain(user, chain_id: int) -> int:
    """Turn ``user``'s pending roles in the chain into real ones; how many there were.

    Called when the person signs in at the chain's consoles or opens an invitation:
    they have shown they are the account's owner and came to work here.
    """
    roles = db.session.scalars(db.select(StaffRole).where(
        StaffRole.user_id == user.id, StaffRole.chain_id == chain_id,
        StaffRole.pending.is_(True)))
    joined = 0
    for role in roles:
        role.pending = False
        joined += 1
    if joined:
        db.session.commit()
    return joined


def is_hq(user, chain) -> bool:
    if getattr(user, "kind", None) != "staff":
        return False
    if user.is_platform_admin:
        return True
    return any(r.role == "hq" and r.store_id is None for r in roles_of(user, chain.id))


def store_role(user, store) -> str | None:
    """``manager`` or ``clerk`` at ``store`` (HQ staff count as managers), or None."""
    if getattr(user, "kind", None) != "staff":
        return None
    if user.is_platform_admin:
        return "manager"
    roles = roles_of(user, store.chain_id)
    if any(r.role == "hq" for r in roles):
        return "manager"
    for wanted in ("manager", "clerk"):
        if any(r.role == wanted and r.store_id == store.id for r in roles):
            return wanted
    return None


def _require(check, login_endpoint):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
            if not check():
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def admin_required(view):
    return _require(lambda: getattr(current_user, "is_platform_admin", False), "admin.login")(
        view
    )


def hq_required(view):
    return _require(lambda: is_hq(current_user, g.chain), "hq.login")(view)


def staff_required(view):
    """Manager or clerk of the request's store."""

    def check():
        g.staff_role = store_role(current_user, g.store)
        return g.staff_role is not None

    return _require(check, "manage.login")(view)


def manager_required(view):
    def check():
        g.staff_role = store_role(current_user, g.store)
        return g.staff_role == "manager"

    return _require(check, "manage.login")(view)


def customer_required(view):
    return _require(lambda: getattr(current_user, "kind", None) == "customer", "storefront.login")(
        view
    )


def sign_out():
    logout_user()


# -- accounts made by someone else (HQ import, a manager adding staff) ------------------------

#: Password hashes start with the method name; "!" can never be produced by a real hash,
#: so werkzeug's check fails for every password and the account cannot be entered.
UNUSABLE_PREFIX = "!"
INVITATION_MAX_AGE = 14 * 86400


def unusable_password_hash() -> str:
    """A ``password_hash`` no password matches: the account waits for its invitation."""
    return UNUSABLE_PREFIX + secrets.token_urlsafe(12)


def needs_password(user) -> bool:
    return (user.password_hash or UNUSABLE_PREFIX).startswith(UNUSABLE_PREFIX)


def _invitations() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="staff-invitation")


def _fingerprint(password_hash: str) -> str:
    """A short digest of the password hash, for invitation tokens.

    It changes whenever the hash does (a password chosen, a new invitation), and reads
    alike for an invitation marker and a real hash: the token is signed, not encrypted,
    so whoever sees a link can read it, and it must not tell whether the account had a
    password already.
    """
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def invitation_token(role) -> str:
    """A signed link token to join a store as ``role`` (a :class:`StaffRole`).

    It names the role, not the account: role ids are new for every invitation, while an
    account's id would tell an old account from a new one. It carries a fingerprint of
    the current password hash, so choosing a password (or a new invitation after a
    reset) invalidates every earlier link without a table.
    """
    return invitation_token_for(role.id, role.user.password_hash)


def invitation_token_for(role_id: int, password_hash: str) -> str:
    """:func:`invitation_token` from the two values, for rows inserted in bulk."""
    return _invitations().dumps({"r": role_id, "h": _fingerprint(password_hash)})


def role_for_invitation(token: str, store) -> StaffRole | None:
    """The role an invitation link for ``store`` names, while the link is valid."""
    try:
        data = _invitations().loads(token, max_age=INVITATION_MAX_AGE)
        role_id = int(data.get("r", 0))
    except (BadSignature, AttributeError, TypeError, ValueError):
        return None
    role = db.session.get(StaffRole, role_id)
    if role is None or role.store_id != store.id:
        return None
    user = role.user
    if not user.active or _fingerprint(user.password_hash) != data.get("h"):
        return None
    return role


class SetPasswordForm(FlaskForm):
    """The invitation page: a new account chooses its password, an existing one enters it.

    One form for both, so the page an invitation opens looks the same whether or not the
    address already had an account (see docs/hq.md, "Adding someone who may have an account").
    """

    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=8, max=128)]
    )
    confirm = PasswordField(
        _l("Repeat password"), validators=[EqualTo("password", _l("Passwords differ."))]
    )
