"""Giving people a role at a store: one rule for HQ, a store manager and the CSV import."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .. import tenancy
from ..auth import needs_password, unusable_password_hash
from ..extensions import db
from ..models import StaffRole, Store, User


class StaffError(ValueError):
    """The role cannot be given; the message is shown to the person who asked."""


@dataclass
class StaffResult:
    user: User
    role: StaffRole
    created: bool
    #: True when the person was not yet the chain's staff: the role waits until they join,
    #: and the page shows an invitation link. Said alike for a new address and for an
    #: account that exists elsewhere on the platform (no existence oracle).
    invited: bool


def _is_chain_staff(user: User, chain_id: int) -> bool:
    """Whether ``user`` already works for the chain (a joined role at any of its stores)."""
    with tenancy.unscoped():  # the roles at the chain's other stores count too
        return db.session.scalar(db.select(StaffRole.id).where(
            StaffRole.user_id == user.id, StaffRole.chain_id == chain_id,
            StaffRole.pending.is_(False)).limit(1)) is not None


def owned_by_chain(user: User, chain_id: int) -> bool:
    """Whether every role of ``user`` is in this chain (so the chain may set up its password).

    An invitation of one chain must never choose, or reset, the password of an account
    another chain (or the platform) also relies on: that would hand the account over.
    """
    if user.is_platform_admin:
        return False
    with tenancy.unscoped():
        elsewhere = db.session.scalar(db.select(StaffRole.id).where(
            StaffRole.user_id == user.id, StaffRole.chain_id != chain_id).limit(1))
    return elsewhere is None


def _has_role(user: User, store: Store, role: str) -> bool:
    return db.session.scalar(db.select(StaffRole.id).where(
        StaffRole.user_id == user.id, StaffRole.store_id == store.id, StaffRole.role == role,
    )) is not None


def add_store_staff(store: Store, email: str, role: str, password: str | None = None,
                    name: str = "") -> StaffResult:
    """Make ``email`` a ``role`` (manager or clerk) of ``store``; the caller commits.

    The chain's own staff get the role at once. Anyone else is *invited*: a new address
    gets an account (with ``password`` when given, else none and an invitation link),
    an account that exists elsewhere keeps its password; either way the role is pending
    until the person signs in here or opens the link, and the caller shows the same
    answer for both (see docs/hq.md for why).
    """
    if role not in ("manager", "clerk"):
        raise StaffError(_l("Unknown role."))
    email = email.strip().lower()
    user = db.session.scalar(db.select(User).where(User.email == email))
    if user is not None and _has_role(user, store, role):
        raise StaffError(_l("%(email)s already has this role here.", email=email))
    if user is not None and _is_chain_staff(user, store.chain_id):
        given = StaffRole(user_id=user.id, chain_id=store.chain_id, store_id=store.id, role=role)
        db.session.add(given)
        db.session.flush()
        return StaffResult(user, given, created=False, invited=False)
    created = user is None
    if created:
        user = User(email=email, name=name.strip() or email.split("@")[0])
        if password:
            user.set_password(password)
        else:
            user.password_hash = unusable_password_hash()
        db.session.add(user)
        db.session.flush()
    given = StaffRole(user_id=user.id, chain_id=store.chain_id, store_id=store.id, role=role,
                      pending=True)
    db.session.add(given)
    db.session.flush()
    return StaffResult(user, given, created=created, invited=True)


def store_role_row(store: Store, staff_role_id: int, roles=("manager", "clerk")):
    """Role ``staff_role_id`` at ``store``, when it is one of ``roles``; else None (a 404)."""
    role = db.session.get(StaffRole, staff_role_id)
    if role is None or role.store_id != store.id or role.role not in roles:
        return None
    return role


def is_waiting(role: StaffRole) -> bool:
    """Invited and not joined yet: the role is pending, or no password was chosen."""
    return role.pending or needs_password(role.user)


def renew_invitation(role: StaffRole) -> StaffRole:
    """A fresh invitation for someone invited to a store who has not joined yet.

    For an account this chain alone uses, a new marker hash makes every earlier link
    stop working. An account that is also used elsewhere keeps its hash (this chain may
    not touch it): its links only ever let its owner in with their own password. The
    caller commits and builds the link (:func:`shopbuilder.auth.invitation_token`).
    """
    user = role.user
    if not is_waiting(role):
        raise StaffError(_l("%(email)s has already chosen a password.", email=user.email))
    if needs_password(user) and owned_by_chain(user, role.chain_id):
        user.password_hash = unusable_password_hash()
        db.session.flush()
    return role


def store_staff(store: Store) -> list[StaffRole]:
    """Managers first, then clerks, by email."""
    stmt = (
        db.select(StaffRole)
        .join(User, StaffRole.user_id == User.id)
        .where(StaffRole.store_id == store.id, StaffRole.chain_id == store.chain_id)
        .order_by(StaffRole.role.desc(), User.email)
    )
    return list(db.session.scalars(stmt).unique())
