"""Accounts, web sessions and API credentials: who is calling, as an `Actor` the services understand.

Sign-in is throttled by account *and* source address, so that a guesser is slowed where they
guess while the account's owner, elsewhere, signs in at once (see SigninThrottle).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.loans.actors import (
    ENTERPRISE,
    INSTITUTION_ADMIN,
    INSTITUTION_SYSTEM,
    OFFICER,
    SUPERVISOR,
    Actor,
)
from engine.models import ApiCredential, Institution, LoginFailure, UserAccount
from engine.models.access import SigninSource, WebSession
from engine.workflow.database import rows_matched
from engine.workflow.errors import NotFound, RateLimited, ValidationFailed
from engine.workflow.journal import record_audit

PROCESS_AUTHOR = "process_author"
SYSTEM_ADMIN = "system_admin"
ROLES = (ENTERPRISE, OFFICER, INSTITUTION_ADMIN, SUPERVISOR, PROCESS_AUTHOR, SYSTEM_ADMIN)
TOKEN_LIFETIME = timedelta(hours=12)
LAST_USED_RESOLUTION = timedelta(minutes=5)
# A web session unused this long is refused (and purged); browsers may keep session cookies for weeks.
WEB_SESSION_IDLE = timedelta(days=30)
# Sign-in failures are purged after a day, so a throttle's window may be at most that long.
FAILURE_RETENTION = timedelta(hours=24)
# A source the account signed in from this recently is "known" to it (see SigninThrottle).
KNOWN_SOURCE_MEMORY = timedelta(days=30)
FIRST_DELAY = timedelta(seconds=1)
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 10, 200
WRONG_CURRENT_PASSWORD = "The current password is wrong."
_KEY_PREFIX = "xyd_"
# Compared against when the user does not exist, so a miss costs as much as a wrong password.
# werkzeug's scrypt (n=32768, r=8, p=1): about 0.1 s a hash here. The test suite lowers it, as
# Django's suites do, so that hundreds of accounts do not cost minutes; production never does.
PASSWORD_HASH_METHOD = "scrypt"
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """A salted hash of `password` with PASSWORD_HASH_METHOD (the method is recorded in the hash)."""
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller: the actor for the services and the credential used."""

    actor: Actor
    credential_id: int
    touch: bool = False  # last_used_at is old enough to be written again


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> tuple[str, str]:
    secret = _KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[: len(_KEY_PREFIX) + 8]


def create_user(session: Session, now: datetime, username: str, password: str, role: str, *,
                institution_id: int | None = None, enterprise_id: int | None = None,
                display_name: str = "") -> UserAccount:
    """Create an account with a hashed password; the role decides which party it needs."""
    errors: dict[str, list[str]] = {}
    if role not in ROLES:
        errors["role"] = [f"Must be one of {', '.join(ROLES)}."]
    if len(password) < 10:
        errors["password"] = ["At least 10 characters."]
    if role in (OFFICER, INSTITUTION_ADMIN) and institution_id is None:
        errors["institution_id"] = ["Officers and institution admins belong to an institution."]
    if role == ENTERPRISE and enterprise_id is None:
        errors["enterprise_id"] = ["Enterprise users belong to an enterprise."]
    if session.scalar(sa.select(UserAccount.id).where(UserAccount.username == username)):
        errors["username"] = ["This username is taken."]
    if errors:
        raise ValidationFailed(errors)
    user = UserAccount(username=username, password_hash=hash_password(password), role=role,
                       institution_id=institution_id, enterprise_id=enterprise_id,
                       display_name=display_name or username, active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class SigninThrottle:
    """How failed sign-ins slow further attempts; every rule delays, none locks an account out.

    Failures count within `window`. For an attempt on account A from source S, with `pair`
    failures of A from S, `source` failures from S on any account and `account` failures of A
    from anywhere, the attempt waits (429 with Retry-After, the password not even checked):

    - pair >= free_per_account_and_source: 1 s, 2 s, 4 s … (doubling per further failure, at
      most `max_delay`) after the latest failure of A from S;
    - source >= free_per_source (password spraying): likewise after S's latest failure;
    - account >= free_per_account and S has failed on A (a distributed attack): likewise after
      A's latest failure.

    The last two spare a source A signed in from within KNOWN_SOURCE_MEMORY, and the last
    spares any source that has not failed on A: its first attempt is always checked at once.
    A successful sign-in forgets the failures of A from S.
    """

    window: timedelta = timedelta(hours=1)
    free_per_account_and_source: int = 3
    free_per_source: int = 20
    free_per_account: int = 30
    max_delay: timedelta = timedelta(minutes=5)

    def delay(self, failures: int, free: int) -> timedelta:
        """The wait after the latest failure once `failures` reached `free` (none before)."""
        if failures < free:
            return timedelta(0)
        return min(FIRST_DELAY * 2 ** min(failures - free, 30), self.max_delay)


DEFAULT_THROTTLE = SigninThrottle()


def source_key(address: str | None) -> str:
    """The source a sign-in is counted against: an IPv4 address, or an IPv6 address's /64 network
    (one subscriber usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _failures(session: Session, since: datetime, *conditions: sa.ColumnElement[bool]) -> tuple[int, datetime | None]:
    count, latest = session.execute(sa.select(sa.func.count(), sa.func.max(LoginFailure.at)).where(
        LoginFailure.at > since, *conditions)).one()
    return count, latest


def _lock_attempts(session: Session, username: str, source: str) -> None:
    """Serialize attempts on one account and from one source, so that parallel guesses cannot all
    read the failure count before any of them records one. SQLite's write transactions are
    serial already (BEGIN IMMEDIATE); PostgreSQL takes transaction-scoped advisory locks, the
    account's first, then the source's (one order everywhere: no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in (f"signin-account:{username}", f"signin-source:{source}"):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _wait_before_attempt(session: Session, now: datetime, username: str, source: str, user: UserAccount | None,
                         throttle: SigninThrottle) -> None:
    """Raise RateLimited if this source must wait before trying this account again."""
    since = now - throttle.window
    pair, pair_latest = _failures(session, since, LoginFailure.username == username, LoginFailure.source == source)
    waits = [(pair_latest, throttle.delay(pair, throttle.free_per_account_and_source))]
    known = user is not None and session.scalar(sa.select(SigninSource.last_success_at).where(
        SigninSource.user_id == user.id, SigninSource.source == source,
        SigninSource.last_success_at > now - KNOWN_SOURCE_MEMORY)) is not None
    if not known:
        spraying, source_latest = _failures(session, since, LoginFailure.source == source)
        waits.append((source_latest, throttle.delay(spraying, throttle.free_per_source)))
        if pair:
            account, account_latest = _failures(session, since, LoginFailure.username == username)
            waits.append((account_latest, throttle.delay(account, throttle.free_per_account)))
    until = max((latest + delay for latest, delay in waits if latest is not None and delay), default=None)
    if until is not None and until > now:
        raise RateLimited("Too many failed sign-ins from this address; try again later",
                          retry_after=max(math.ceil((until - now).total_seconds()), 1))


def _remember_source(session: Session, now: datetime, user: UserAccount, username: str, source: str) -> None:
    session.execute(sa.delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.source == source))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SigninSource).values(user_id=user.id, source=source, last_success_at=now)
    session.execute(statement.on_conflict_do_update(index_elements=["user_id", "source"],
                                                    set_={"last_success_at": now}))


def _attempt(session: Session, now: datetime, username: str, password: str, source: str,
             throttle: SigninThrottle, user: UserAccount | None) -> bool:
    username = username[:100]
    _lock_attempts(session, username, source)
    _wait_before_attempt(session, now, username, source, user, throttle)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
    elif check_password_hash(user.password_hash, password) and user.active:
        _remember_source(session, now, user, username, source)
        return True
    session.add(LoginFailure(username=username, source=source, at=now))
    return False


def check_login(session: Session, now: datetime, username: str, password: str, *, source: str,
                throttle: SigninThrottle = DEFAULT_THROTTLE) -> UserAccount | None:
    """The active user with this password, or None (in about the same time either way).

    `source` is a `source_key`. The failure is recorded in `session`: commit it even when
    answering "wrong password". Raises RateLimited while `throttle` makes this source wait.
    """
    user = session.scalars(sa.select(UserAccount).where(UserAccount.username == username[:100])).first()
    return user if _attempt(session, now, username, password, source, throttle, user) else None


def change_password(session: Session, now: datetime, user_id: int, current: str, new: str, again: str, *,
                    source: str, keep_session: str, throttle: SigninThrottle = DEFAULT_THROTTLE) -> bool:
    """Change a user's own password; False if `current` is wrong (recorded as a failed sign-in).

    The account's other web sessions and its API tokens end; the session `keep_session` (a
    secret from `open_web_session`) stays signed in. ValidationFailed for an unfit new password
    (before `current` is checked); RateLimited while the throttle makes this source wait.
    """
    errors: dict[str, list[str]] = {}
    if not MIN_PASSWORD_LENGTH <= len(new) <= MAX_PASSWORD_LENGTH:
        errors["password"] = ["At least 10 characters." if len(new) < MIN_PASSWORD_LENGTH
                              else "At most 200 characters."]
    elif new != again:
        errors["password_again"] = ["The two passwords are not the same."]
    if errors:
        raise ValidationFailed(errors)
    # No row lock before _attempt's advisory locks: a sign-in takes them first, then (inserting rows
    # that refer to the account) a share lock on its row; the opposite order could deadlock.
    user = session.get(UserAccount, user_id)
    if user is None:
        raise NotFound(f"User {user_id} doesn't exist.")
    if not _attempt(session, now, user.username, current, source, throttle, user):
        return False
    user.password_hash = hash_password(new)
    kept = _hash_secret(keep_session)
    sessions = revoke_web_sessions(session, now, user.id, keep=kept)
    session.execute(sa.update(WebSession).where(WebSession.id == kept).values(password_mark=_password_mark(user)))
    tokens = rows_matched(session.execute(sa.update(ApiCredential).where(
        ApiCredential.user_id == user.id, ApiCredential.kind == "user_token", ApiCredential.revoked_at.is_(None))
        .values(revoked_at=now)))
    record_audit(session, now, user.username, "password_changed", detail={
        "user_id": user.id, "username": user.username, "sessions_ended": sessions, "tokens_revoked": tokens})
    return True


# --- web sessions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionCheck:
    """What a web session's secret stands for: the user, or None; and what to write afterwards."""

    user: UserAccount | None
    touch: bool = False  # last_seen_at is old enough to be written again
    revoke: bool = False  # refused for good (account deactivated, password reset, idle too long)


def _password_mark(user: UserAccount) -> str:
    # The hash is salted, so this says nothing about the password; it changes with every new one.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()


def open_web_session(session: Session, now: datetime, user: UserAccount) -> str:
    """Record a new signed-in browser; return the secret its cookie carries (only a hash is kept)."""
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(id=_hash_secret(secret), user_id=user.id, password_mark=_password_mark(user),
                           created_at=now, last_seen_at=now))
    session.flush()
    return secret


def check_web_session(session: Session, now: datetime, secret: str) -> SessionCheck:
    """The user a session's secret stands for, with one primary-key lookup (no write)."""
    if not secret or len(secret) > 100:
        return SessionCheck(None)
    row = session.execute(sa.select(WebSession, UserAccount).join(UserAccount, UserAccount.id == WebSession.user_id)
                          .where(WebSession.id == _hash_secret(secret))).first()
    if row is None or row[0].revoked_at is not None:
        return SessionCheck(None)
    web_session, user = row
    if (not user.active or now - web_session.last_seen_at > WEB_SESSION_IDLE
            or not hmac.compare_digest(web_session.password_mark, _password_mark(user))):
        return SessionCheck(None, revoke=True)
    return SessionCheck(user, touch=now - web_session.last_seen_at > LAST_USED_RESOLUTION)


def touch_web_session(session: Session, now: datetime, secret: str) -> None:
    """Note that a session was used (at most every few minutes, so that requests rarely write)."""
    session.execute(sa.update(WebSession).where(WebSession.id == _hash_secret(secret)).values(last_seen_at=now))


def end_web_session(session: Session, now: datetime, secret: str) -> None:
    """Revoke one session (sign-out): a copy of its cookie is refused from now on."""
    session.execute(sa.update(WebSession).where(WebSession.id == _hash_secret(secret),
                                                WebSession.revoked_at.is_(None)).values(revoked_at=now))


def revoke_web_sessions(session: Session, now: datetime, user_id: int, *, keep: str | None = None) -> int:
    """Revoke every live session of an account but the one whose id is `keep`; return how many."""
    statement = sa.update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        statement = statement.where(WebSession.id != keep)
    return rows_matched(session.execute(statement.values(revoked_at=now)))


def actor_for_user(user: UserAccount) -> Actor:
    return Actor(user.username, user.role, institution_id=user.institution_id, enterprise_id=user.enterprise_id)


def issue_user_token(session: Session, now: datetime, user: UserAccount) -> tuple[str, ApiCredential]:
    """A bearer token for a signed-in user; the secret is returned once and never stored."""
    secret, prefix = _new_secret()
    credential = ApiCredential(kind="user_token", name=f"token for {user.username}", prefix=prefix,
                               secret_hash=_hash_secret(secret), user_id=user.id, created_at=now,
                               created_by=user.username, expires_at=now + TOKEN_LIFETIME)
    session.add(credential)
    session.flush()
    return secret, credential


def create_institution_key(session: Session, now: datetime, institution_code: str, name: str,
                           created_by: str) -> tuple[str, ApiCredential]:
    """A new API key for an institution's own system; several may be active (rotation)."""
    institution = session.scalars(sa.select(Institution).where(Institution.code == institution_code)).first()
    if institution is None:
        raise NotFound(f"Institution {institution_code} doesn't exist.")
    secret, prefix = _new_secret()
    credential = ApiCredential(kind="institution_key", name=name, prefix=prefix,
                               secret_hash=_hash_secret(secret), institution_id=institution.id,
                               created_at=now, created_by=created_by)
    session.add(credential)
    session.flush()
    return secret, credential


def revoke_credential(session: Session, now: datetime, prefix: str) -> int:
    """Revoke every live credential with this prefix; return how many."""
    return rows_matched(session.execute(
        sa.update(ApiCredential).where(ApiCredential.prefix == prefix, ApiCredential.revoked_at.is_(None))
        .values(revoked_at=now)
    ))


def authenticate(session: Session, now: datetime, secret: str) -> Caller | None:
    """The caller holding `secret`, or None if it is unknown, revoked, expired or inactive."""
    if not secret.startswith(_KEY_PREFIX):
        return None
    digest = _hash_secret(secret)
    # One prepared statement: every API request runs it (the credential with its institution or user).
    rows = session.execute(_CREDENTIALS_BY_PREFIX, {"prefix": secret[: len(_KEY_PREFIX) + 8]}).all()
    found = next((row for row in rows if hmac.compare_digest(row[0].secret_hash, digest)), None)
    if found is None:
        return None
    match, institution, user = found
    if match.revoked_at is not None or (match.expires_at and match.expires_at <= now):
        return None
    if match.kind == "institution_key":
        if institution is None or institution.status == "exited":
            return None
        actor = Actor(f"system:{institution.code}:{match.prefix}", INSTITUTION_SYSTEM,
                      institution_id=institution.id)
    else:
        if user is None or not user.active:
            return None
        actor = actor_for_user(user)
    stale = match.last_used_at is None or now - match.last_used_at > LAST_USED_RESOLUTION
    return Caller(actor, match.id, touch=stale)


_CREDENTIALS_BY_PREFIX = (
    sa.select(ApiCredential, Institution, UserAccount)
    .outerjoin(Institution, Institution.id == ApiCredential.institution_id)
    .outerjoin(UserAccount, UserAccount.id == ApiCredential.user_id)
    .where(ApiCredential.prefix == sa.bindparam("prefix"))
)


def touch_credential(session: Session, now: datetime, credential_id: int) -> None:
    """Note when a credential was last used (at most every few minutes, so reads rarely write)."""
    session.execute(sa.update(ApiCredential).where(ApiCredential.id == credential_id).values(last_used_at=now))
