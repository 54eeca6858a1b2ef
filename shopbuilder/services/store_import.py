"""Import a chain's stores from CSV: one service behind the HQ page and the CLI.

The file is checked completely before anything is written (a "plan"); any
invalid row means nothing is imported. Columns: slug, name, address, city,
phone, lat, lng, manager_email. Writing uses bulk INSERTs, so 10,000 stores
take seconds, not minutes (see ``bench/import_stores.py``).

Managers named in the file are attached when the account exists, otherwise
created *without a usable password* and reported with a one-time invitation
link: no password is generated, hashed or shown (see docs/hq.md for why).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from ..auth import invitation_token_for, unusable_password_hash
from ..extensions import db
from ..models import Chain, StaffRole, Store, User
from ..tenancy import any_chain
from . import stores as rules

log = logging.getLogger(__name__)

COLUMNS = ("slug", "name", "address", "city", "phone", "lat", "lng", "manager_email")
REQUIRED = ("slug", "name", "address", "city")
#: Rows per INSERT batch and per IN (...) lookup.
CHUNK = 1000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class StoreRow:
    line: int
    slug: str
    name: str
    address: str
    city: str
    phone: str
    lat: float | None
    lng: float | None
    manager_email: str


@dataclass
class ImportPlan:
    """What an import would do; ``ok`` only when no row has an error."""

    chain_id: int
    rows: list[StoreRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"
    #: email -> user id of the chain's own staff, attached as managers at once.
    existing_managers: dict[str, int] = field(default_factory=dict)
    #: emails of accounts to create (no usable password; invitation link).
    new_managers: list[str] = field(default_factory=list)
    #: email -> (user id, password hash) of accounts that are not the chain's staff: they
    #: are invited exactly like new ones, so the preview never says whether an address
    #: already had an account somewhere on the platform (docs/hq.md).
    invited_accounts: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def invited(self) -> int:
        """Managers who get an invitation link: new addresses and anyone else's accounts."""
        return len(self.new_managers) + len(self.invited_accounts)


@dataclass
class Invitation:
    email: str
    store_slug: str
    token: str


@dataclass
class ImportResult:
    stores: int
    attached_managers: int
    invitations: list[Invitation]


class ImportFailed(Exception):
    """The import could not be written (a slug was taken meanwhile...); nothing was."""


# -- reading the file ----------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), UTF-16 with BOM, else GBK.

    Excel in China saves "CSV" as GBK (code page 936); GB18030 is its superset,
    so it reads both.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise ValueError(str(_l("the file is neither UTF-8 nor GBK text"))) from exc


def read_rows(text: str, errors: list[RowError]) -> list[tuple[int, dict]]:
    """``(line, {column: value})`` for each non-empty data row; header problems go to errors."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        errors.append(RowError(1, str(exc)))
        return []
    if not header:
        errors.append(RowError(1, str(_l("the file is empty"))))
        return []
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h and h not in COLUMNS]
    if missing:
        errors.append(RowError(1, str(_l("missing columns: %(names)s", names=", ".join(missing)))))
    if unknown:
        errors.append(RowError(1, str(_l("unknown columns: %(names)s", names=", ".join(unknown)))))
    if missing or unknown:
        return []
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(names) and any(v.strip() for v in values[len(names):]):
                errors.append(RowError(reader.line_num, str(_l(
                    "%(count)d values for %(columns)d columns",
                    count=len(values), columns=len(names)))))
                continue
            record = {name: (values[i].strip() if i < len(values) else "")
                      for i, name in enumerate(names) if name}
            rows.append((reader.line_num, record))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, str(exc)))
    return rows


def check_row(line: int, record: dict, errors: list[RowError]) -> StoreRow | None:
    """One row's own rules (not duplicates); None when it has errors."""
    problems: list[str] = []
    for name in REQUIRED:
        if not record[name]:
            problems.append(str(_l("missing %(field)s", field=name)))
    for name, limit in rules.MAX_LENGTHS.items():
        if len(record[name]) > limit:
            problems.append(str(_l("%(field)s is longer than %(limit)d characters",
                                   field=name, limit=limit)))
    if record["slug"]:
        try:
            rules.check_slug(record["slug"])
        except rules.InvalidValue as exc:
            problems.append(f"slug '{record['slug']}': {exc}")
    lat = lng = None
    try:
        rules.check_phone(record["phone"])
    except rules.InvalidValue as exc:
        problems.append(str(exc))
    try:
        lat = rules.check_lat(record["lat"])
        lng = rules.check_lng(record["lng"])
        if (lat is None) != (lng is None):
            problems.append(str(_l("give both lat and lng, or neither")))
    except rules.InvalidValue as exc:
        message = str(exc)
        try:
            if abs(float(record["lng"])) <= 90 < abs(float(record["lat"])) <= 180:
                message += " " + str(_l("(lat and lng look swapped)"))
        except ValueError:
            pass
        problems.append(message)
    email = record["manager_email"]
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            problems.append(str(_l("not an email address: %(value)s", value=email)))
    errors.extend(RowError(line, p) for p in problems)
    if problems:
        return None
    return StoreRow(line, record["slug"], record["name"], record["address"], record["city"],
                    record["phone"], lat, lng, email)


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def plan_import(chain: Chain, data: bytes, progress: Progress | None = None) -> ImportPlan:
    """Check the whole file against itself and the database; write nothing."""
    plan = ImportPlan(chain_id=chain.id)
    try:
        text, plan.encoding = decode(data)
    except ValueError as exc:
        plan.errors.append(RowError(1, str(exc)))
        return plan
    records = read_rows(text, plan.errors)
    if not records and not plan.errors:
        plan.errors.append(RowError(2, str(_l("the file has no stores"))))
    first_line: dict[str, int] = {}
    for line, record in records:
        row = check_row(line, record, plan.errors)
        if progress:
            progress(1)
        if row is None:
            continue
        if row.slug in first_line:
            plan.errors.append(RowError(line, str(_l(
                "slug '%(slug)s' is already used on line %(other)d",
                slug=row.slug, other=first_line[row.slug]))))
            continue
        first_line[row.slug] = line
        plan.rows.append(row)

    for chunk in _chunks(list(first_line)):
        # Slugs are unique across the platform, not only in this chain.
        taken = db.session.scalars(
            any_chain(db.select(Store.slug).where(Store.slug.in_(chunk)))
        )
        for slug in taken:
            plan.errors.append(RowError(first_line[slug], str(_l(
                "slug '%(slug)s' is already used by another store", slug=slug))))
    plan.errors.sort(key=lambda e: e.line)

    emails = sorted({row.manager_email for row in plan.rows if row.manager_email})
    for chunk in _chunks(emails):
        found = db.session.execute(
            db.select(User.email, User.id, User.password_hash).where(User.email.in_(chunk)))
        accounts = {email: (user_id, hashed) for email, user_id, hashed in found}
        staff = set(db.session.scalars(db.select(StaffRole.user_id).where(
            StaffRole.user_id.in_([user_id for user_id, _hash in accounts.values()]),
            StaffRole.chain_id == plan.chain_id, StaffRole.pending.is_(False))))
        for email, (user_id, hashed) in accounts.items():
            if user_id in staff:
                plan.existing_managers[email] = user_id
            else:
                plan.invited_accounts[email] = (user_id, hashed)
    plan.new_managers = [e for e in emails
                         if e not in plan.existing_managers and e not in plan.invited_accounts]
    return plan


# -- writing -----------------------------------------------------------------------------


def apply_import(plan: ImportPlan, progress: Progress | None = None) -> ImportResult:
    """Write a valid plan in one transaction (the caller's session commits)."""
    if not plan.ok:
        raise ImportFailed(str(_l("the file has errors; nothing was imported")))
    slug_ids: dict[str, int] = {}
    for chunk in _chunks(plan.rows):
        values = [{
            "chain_id": plan.chain_id, "slug": r.slug, "name": r.name, "address": r.address,
            "city": r.city, "phone": r.phone, "lat": r.lat, "lng": r.lng,
        } for r in chunk]
        inserted = db.session.execute(insert(Store).returning(Store.id, Store.slug), values)
        slug_ids.update({slug: store_id for store_id, slug in inserted})
        if progress:
            progress(len(chunk))

    manager_ids = dict(plan.existing_managers)
    hashes: dict[str, str] = {}
    for email, (user_id, hashed) in plan.invited_accounts.items():
        manager_ids[email], hashes[email] = user_id, hashed
    for chunk in _chunks(plan.new_managers):
        values = []
        for email in chunk:
            hashes[email] = unusable_password_hash()
            values.append({"email": email, "name": email.split("@")[0],
                           "password_hash": hashes[email]})
        inserted = db.session.execute(insert(User).returning(User.id, User.email), values)
        manager_ids.update({email: user_id for user_id, email in inserted})

    # Roles of people who are not yet the chain's staff wait until they join.
    roles = [{"user_id": manager_ids[r.manager_email], "chain_id": plan.chain_id,
              "store_id": slug_ids[r.slug], "role": "manager",
              "pending": r.manager_email not in plan.existing_managers}
             for r in plan.rows if r.manager_email]
    role_ids: dict[tuple[int, int], int] = {}
    for chunk in _chunks(roles):
        inserted = db.session.execute(
            insert(StaffRole).returning(StaffRole.id, StaffRole.user_id, StaffRole.store_id),
            chunk)
        role_ids.update({(user_id, store_id): role_id for role_id, user_id, store_id in inserted})

    first_store = {}
    for r in plan.rows:
        if r.manager_email:
            first_store.setdefault(r.manager_email, r.slug)
    invitations = [
        Invitation(email, first_store[email], invitation_token_for(
            role_ids[manager_ids[email], slug_ids[first_store[email]]], hashes[email]))
        for email in sorted([*plan.new_managers, *plan.invited_accounts])
    ]
    log.info("imported %d stores into chain %s (%d managers invited)",
             len(plan.rows), plan.chain_id, len(invitations))
    return ImportResult(stores=len(plan.rows), attached_managers=len(plan.existing_managers),
                        invitations=invitations)


def commit_import(plan: ImportPlan, progress: Progress | None = None) -> ImportResult:
    """Write a valid plan and commit, or roll back everything and raise ImportFailed."""
    try:
        result = apply_import(plan, progress)
        db.session.commit()
    except ImportFailed:
        db.session.rollback()
        raise
    except IntegrityError as exc:
        db.session.rollback()
        raise ImportFailed(str(_l(
            "another change took one of these slugs or emails meanwhile; "
            "nothing was imported, please check again"))) from exc
    except Exception:
        db.session.rollback()
        raise
    return result


def import_stores(chain: Chain, data: bytes, dry_run: bool = False,
                  progress: Progress | None = None) -> tuple[ImportPlan, ImportResult | None]:
    """Check, then (unless ``dry_run`` or invalid) write and commit; all or nothing."""
    plan = plan_import(chain, data, progress)
    if dry_run or not plan.ok:
        return plan, None
    return plan, commit_import(plan)
