"""Giving people a role at a store: one rule for HQ, a store manager and the CSV import."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..auth import needs_password, unusable_password_hash
from ..extensions import db
from ..models import StaffRole, Store, User


class StaffError(ValueError):
    """The role cannot be given; the message is shown to the person who asked."""


@dataclass
class StaffResult:
    user: User
    created: bool
    #: True when the account has no password yet and needs its invitation link.
    invited: bool


def add_store_staff(store: Store, email: str, role: str, password: str | None = None,
                    name: str = "") -> StaffResult:
    """Make ``email`` a ``role`` (manager or clerk) of ``store``; the caller commits.

    An existing account is attached as it is (its password is not touched). A
    new account gets ``password`` when given, else no usable password and an
    invitation link (see docs/hq.md for why not a generated password).
    """
    if role not in ("manager", "clerk"):
        raise StaffError(_l("Unknown role."))
    email = email.strip().lower()
    user = db.session.scalar(db.select(User).where(User.email == email))
    created = invited = False
    if user is None:
        user = User(email=email, name=name.strip() or email.split("@")[0])
        if password:
            user.set_password(password)
        else:
            user.password_hash = unusable_password_hash()
            invited = True
        db.session.add(user)
        db.session.flush()
        created = True
    else:
        exists = db.session.scalar(db.select(StaffRole.id).where(
            StaffRole.user_id == user.id, StaffRole.store_id == store.id,
            StaffRole.role == role,
        ))
        if exists:
            raise StaffError(_l("%(email)s already has this role here.", email=email))
    db.session.add(StaffRole(user_id=user.id, chain_id=store.chain_id, store_id=store.id,
                             role=role))
    db.session.flush()
    return StaffResult(user, created, invited)


def invited_member(store: Store, user_id: int, roles=("manager", "clerk")) -> User | None:
    """The staff member ``user_id`` of ``store`` holding one of ``roles``, or None.

    None also for anyone who works elsewhere only: the pages answer 404, as for an id
    that does not exist.
    """
    return db.session.scalar(
        db.select(User).join(StaffRole, StaffRole.user_id == User.id).where(
            User.id == user_id, StaffRole.store_id == store.id,
            StaffRole.chain_id == store.chain_id, StaffRole.role.in_(roles),
        ).limit(1)
    )


def renew_invitation(user: User) -> User:
    """Give ``user`` a fresh invitation: earlier links (expired or not) stop working.

    Only for an account that never chose a password: resetting a working password is
    not HQ's or a manager's to do. The caller commits and builds the link from the new
    hash (:func:`shopbuilder.auth.invitation_token`).
    """
    if not needs_password(user):
        raise StaffError(_l("%(email)s has already chosen a password.", email=user.email))
    user.password_hash = unusable_password_hash()
    db.session.flush()
    return user


def store_staff(store: Store) -> list[StaffRole]:
    """Managers first, then clerks, by email."""
    stmt = (
        db.select(StaffRole)
        .join(User, StaffRole.user_id == User.id)
        .where(StaffRole.store_id == store.id, StaffRole.chain_id == store.chain_id)
        .order_by(StaffRole.role.desc(), User.email)
    )
    return list(db.session.scalars(stmt).unique())
