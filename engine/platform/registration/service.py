"""Self-registration: the form is checked and kept pending while a code goes to the contact; the
right code creates the enterprise, its first user, the accepted 信用承诺 and the identity check.

Codes: six random digits, kept as an HMAC (key from config), valid `code_minutes`; a wrong one
counts, and `max_wrong_codes` of them lock the registration (it must be started again). A new
code may be asked for after `resend_seconds`, at most `max_codes` times. Starting is throttled
per source address and per contact address within `window_minutes` (a 429 with Retry-After).
E-mail codes leave through the outbox (topic `registration.email_code`, addressed to the e-mail
being verified; the code is scrubbed from the message once fanned out, and from the delivery once
sent); phone codes through the configured SmsSender after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.loans.actors import ENTERPRISE
from engine.models import CreditCommitment, Enterprise, IdentityCheck, PendingRegistration, UserAccount
from engine.platform.access import hash_password
from engine.platform.registration import commitment
from engine.platform.registration.form import (
    Problems,
    account_fields,
    commitment_accepted,
    enterprise_fields,
    refuse,
)
from engine.platform.registration.providers import (
    IdentitySubject,
    IdentityVerifier,
    ManualReviewVerifier,
    NoSmsSender,
    SmsSender,
    SmsUnavailable,
)
from engine.workflow.encryption import lookup_hash
from engine.workflow.errors import RateLimited
from engine.workflow.journal import enqueue, record_audit

EMAIL_CODE_TOPIC = "registration.email_code"
# Pending registrations (completed or not) are purged this long after they were started (housekeeping);
# RegistrationSettings.lifetime_hours may be shorter, never longer.
RETENTION = timedelta(hours=24)
PENDING, LOCKED, COMPLETED = "pending", "locked", "completed"


@dataclass(frozen=True)
class RegistrationSettings:
    code_key: bytes
    email_enabled: bool
    sms: SmsSender = field(default_factory=NoSmsSender)
    identity: IdentityVerifier = field(default_factory=ManualReviewVerifier)
    code_minutes: int = 10
    max_wrong_codes: int = 5
    resend_seconds: int = 60
    max_codes: int = 5
    starts_per_source: int = 5
    starts_per_address: int = 3
    window_minutes: int = 60
    lifetime_hours: int = 24


@dataclass(frozen=True)
class Started:
    """A registration waiting for its code: the browser keeps `secret`; `sms` says whether a text was sent."""

    secret: str
    channel: str
    address: str
    sms_sent: bool = True


@dataclass(frozen=True)
class Outcome:
    """What a code did: completed (with the new user), wrong (attempts left), expired, locked or gone;
    duplicate/username_taken when someone registered the same code or username meanwhile."""

    status: str
    attempts_left: int = 0
    username: str | None = None
    enterprise_id: int | None = None
    identity_status: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _code_hash(settings: RegistrationSettings, registration_id: int, code: str) -> str:
    return hmac.new(settings.code_key, f"{registration_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _lock_counting(session: Session, *names: str) -> None:
    """Serialize starts from one source / to one address on PostgreSQL (SQLite's writers are serial)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(names):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _throttle(session: Session, now: datetime, settings: RegistrationSettings, source: str, address: str) -> None:
    since = now - timedelta(minutes=settings.window_minutes)
    waits = []
    for column, value, allowed in ((PendingRegistration.source, source, settings.starts_per_source),
                                   (PendingRegistration.address_hash, lookup_hash("contact", address),
                                    settings.starts_per_address)):
        count, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(PendingRegistration.created_at))
            .where(column == value, PendingRegistration.created_at > since)).one()
        if count >= allowed and oldest is not None:
            waits.append(oldest + timedelta(minutes=settings.window_minutes))
    if waits:
        raise RateLimited("Too many registrations from this address; try again later",
                          retry_after=max(math.ceil((max(waits) - now).total_seconds()), 1))


def _taken(session: Session, clean: dict[str, str], problems: Problems) -> None:
    if session.scalar(sa.select(Enterprise.id).where(Enterprise.credit_code == clean["credit_code"])):
        problems.setdefault("credit_code", []).append(("credit_code_taken", {}))
    if session.scalar(sa.select(UserAccount.id).where(
            sa.func.lower(UserAccount.username) == clean["username"].lower())):
        problems.setdefault("username", []).append(("username_taken", {}))


def _send_code(session: Session, now: datetime, settings: RegistrationSettings, row: PendingRegistration,
               code: str) -> None:
    row.code_hash = _code_hash(settings, row.id, code)
    row.code_sent_at, row.code_expires_at = now, now + timedelta(minutes=settings.code_minutes)
    if row.channel == "email":
        enqueue(session, now, EMAIL_CODE_TOPIC, {"registration_id": row.id, "email": row.address, "code": code,
                                                 "minutes": settings.code_minutes})


def _text_code(settings: RegistrationSettings, channel: str, address: str, code: str) -> bool:
    """Hand a phone code to the SMS provider (after the commit); False if it did not take it."""
    if channel != "sms":
        return True
    try:
        settings.sms.send_code(address, code, settings.code_minutes)
    except SmsUnavailable:
        return False
    return True


def start(engine: Any, settings: RegistrationSettings, data: dict[str, Any], *, language: str,
          source: str) -> Started:
    """Check the form, keep it pending and send a code to the contact; nothing is kept if refused.

    ValidationFailed (with `problems`) for the form; RateLimited when this source or contact
    started too many registrations within the window.
    """
    problems: Problems = {}
    clean = enterprise_fields(data, problems)
    clean.update(account_fields(data, problems, email_enabled=settings.email_enabled,
                                sms_available=settings.sms.available))
    commitment_accepted(data, problems, commitment.VERSION)
    address = clean["email"] if clean["channel"] == "email" else clean["phone"]
    with engine.transaction() as session:
        if not problems:
            _taken(session, clean, problems)
        if problems:
            raise refuse(problems)
        now = engine.clock.now()
        _lock_counting(session, f"registration-source:{source}", f"registration-address:{address}")
        _throttle(session, now, settings, source, address)
        secret, code = secrets.token_urlsafe(32), _new_code()
        row = PendingRegistration(
            secret_hash=_digest(secret), status=PENDING, **{name: clean[name] for name in (
                "applicant_kind", "credit_code", "name", "legal_representative", "region_code", "industry_section",
                "size_class", "username", "display_name", "channel")},
            address=address, password_hash=hash_password(clean["password"]), commitment_version=commitment.VERSION,
            commitment_language=language, commitment_sha256=commitment.sha256_of(language), code_hash="",
            code_expires_at=now, code_sent_at=now, codes_sent=1, wrong_codes=0, source=source, created_at=now)
        session.add(row)
        session.flush()
        _send_code(session, now, settings, row, code)
    return Started(secret, clean["channel"], address, _text_code(settings, clean["channel"], address, code))


def _pending(session: Session, now: datetime, settings: RegistrationSettings,
             secret: str) -> PendingRegistration | None:
    if not secret or len(secret) > 100:
        return None
    row = session.scalars(sa.select(PendingRegistration).where(
        PendingRegistration.secret_hash == _digest(secret)).with_for_update()).first()
    if row is None or row.created_at + timedelta(hours=settings.lifetime_hours) <= now:
        return None
    return row


@dataclass(frozen=True)
class Waiting:
    """What the code page shows: where the code went and when another may be asked for."""

    status: str
    channel: str
    address: str
    resend_in: int
    codes_left: int


def waiting(engine: Any, settings: RegistrationSettings, secret: str) -> Waiting | None:
    """The registration this browser started, or None (unknown, expired or finished)."""
    with engine.reading() as session:
        now = engine.clock.now()
        row = _pending(session, now, settings, secret)
        if row is None or row.status == COMPLETED:
            return None
        resend_at = row.code_sent_at + timedelta(seconds=settings.resend_seconds)
        return Waiting(row.status, row.channel, row.address, max(math.ceil((resend_at - now).total_seconds()), 0),
                       max(settings.max_codes - row.codes_sent, 0))


def resend(engine: Any, settings: RegistrationSettings, secret: str) -> str:
    """Send a new code (the old one stops working): `sent`, `locked`, `used_up` or `gone`.

    RateLimited until `resend_seconds` have passed since the last code.
    """
    with engine.transaction() as session:
        now = engine.clock.now()
        row = _pending(session, now, settings, secret)
        if row is None or row.status == COMPLETED:
            return "gone"
        if row.status == LOCKED:
            return "locked"
        if row.codes_sent >= settings.max_codes:
            return "used_up"
        resend_at = row.code_sent_at + timedelta(seconds=settings.resend_seconds)
        if resend_at > now:
            raise RateLimited("A new code can be asked for shortly",
                              retry_after=max(math.ceil((resend_at - now).total_seconds()), 1))
        code = _new_code()
        row.codes_sent += 1
        row.wrong_codes = 0
        _send_code(session, now, settings, row, code)
        channel, address = row.channel, row.address
    return "sent" if _text_code(settings, channel, address, code) else "not_sent"


def verify(engine: Any, settings: RegistrationSettings, secret: str, code: str) -> Outcome:
    """Check the code; the right one completes the registration (one transaction), a wrong one counts."""
    with engine.transaction() as session:
        now = engine.clock.now()
        row = _pending(session, now, settings, secret)
        if row is None or row.status == COMPLETED:
            return Outcome("gone")
        if row.status == LOCKED:
            return Outcome("locked")
        if row.code_expires_at <= now:
            return Outcome("expired")
        given = code.strip()
        if not hmac.compare_digest(row.code_hash, _code_hash(settings, row.id, given[:12])):
            row.wrong_codes += 1
            if row.wrong_codes >= settings.max_wrong_codes:
                row.status = LOCKED
                record_audit(session, now, row.username, "registration_locked",
                             detail={"registration_id": row.id, "wrong_codes": row.wrong_codes})
                return Outcome("locked")
            return Outcome("wrong", attempts_left=settings.max_wrong_codes - row.wrong_codes)
        return _complete(session, now, settings, row)


def _complete(session: Session, now: datetime, settings: RegistrationSettings, row: PendingRegistration) -> Outcome:
    try:
        with session.begin_nested():  # a concurrent twin (same code or username) loses here, not with a 500
            if session.scalar(sa.select(Enterprise.id).where(Enterprise.credit_code == row.credit_code)):
                raise _Clash("duplicate")
            enterprise = Enterprise(
                name=row.name, credit_code=row.credit_code, legal_representative=row.legal_representative,
                applicant_kind=row.applicant_kind, region_code=row.region_code,
                industry_section=row.industry_section, size_class=row.size_class)
            session.add(enterprise)
            session.flush()
            if session.scalar(sa.select(UserAccount.id).where(
                    sa.func.lower(UserAccount.username) == row.username.lower())):
                raise _Clash("username_taken")
            user = UserAccount(username=row.username, password_hash=row.password_hash, role=ENTERPRISE,
                               enterprise_id=enterprise.id, display_name=row.display_name, active=True,
                               created_at=now)  # the password chosen on the form, kept hashed meanwhile
            session.add(user)
            session.flush()
            if row.channel == "email":
                user.email = row.address
            else:
                enterprise.contact_phone = row.address
            session.add(CreditCommitment(enterprise_id=enterprise.id, user_id=user.id, accepted_by=user.username,
                                         accepted_at=now, version=row.commitment_version,
                                         language=row.commitment_language, text_sha256=row.commitment_sha256))
            session.flush()
    except _Clash as clash:
        row.status = LOCKED
        return Outcome(clash.status)
    except IntegrityError:
        row.status = LOCKED
        return Outcome("duplicate")
    answer = settings.identity.check(IdentitySubject(row.credit_code, row.name, row.legal_representative))
    session.add(IdentityCheck(enterprise_id=enterprise.id, method=settings.identity.name, status=answer.status,
                              reference=answer.reference, requested_at=now,
                              decided_at=now if answer.status != "pending" else None,
                              decided_by=settings.identity.name if answer.status != "pending" else None))
    row.status, row.completed_at, row.password_hash, row.code_hash = COMPLETED, now, "", ""
    record_audit(session, now, user.username, "enterprise_registered", detail={
        "enterprise_id": enterprise.id, "user_id": user.id, "credit_code": enterprise.credit_code,
        "applicant_kind": enterprise.applicant_kind, "contact_verified": row.channel,
        "commitment": {"version": row.commitment_version, "language": row.commitment_language,
                       "sha256": row.commitment_sha256},
        "identity_check": {"method": settings.identity.name, "status": answer.status}})
    return Outcome(COMPLETED, username=user.username, enterprise_id=enterprise.id, identity_status=answer.status)


class _Clash(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status
