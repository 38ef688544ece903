"""Accounts and API credentials: who is calling, as an `Actor` the services understand."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import NotFound, RateLimited, ValidationFailed
from engine.loans.actors import (
    ENTERPRISE,
    INSTITUTION_ADMIN,
    INSTITUTION_SYSTEM,
    OFFICER,
    SUPERVISOR,
    Actor,
)
from engine.models import ApiCredential, Institution, LoginFailure, UserAccount

PROCESS_AUTHOR = "process_author"
SYSTEM_ADMIN = "system_admin"
ROLES = (ENTERPRISE, OFFICER, INSTITUTION_ADMIN, SUPERVISOR, PROCESS_AUTHOR, SYSTEM_ADMIN)
TOKEN_LIFETIME = timedelta(hours=12)
MAX_LOGIN_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)
LAST_USED_RESOLUTION = timedelta(minutes=5)
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


def check_login(session: Session, now: datetime, username: str, password: str) -> UserAccount | None:
    """The active user with this password, or None (in about the same time either way).

    After MAX_LOGIN_FAILURES failures for a username within LOGIN_WINDOW, further attempts are
    refused with RateLimited until the window has passed, whether the password is right or not.
    """
    recent = session.scalars(sa.select(LoginFailure.at).where(
        LoginFailure.username == username, LoginFailure.at > now - LOGIN_WINDOW
    ).order_by(LoginFailure.at)).all()
    if len(recent) >= MAX_LOGIN_FAILURES:
        wait = int((recent[-MAX_LOGIN_FAILURES] + LOGIN_WINDOW - now).total_seconds()) + 1
        raise RateLimited("Too many failed sign-ins; try again later", retry_after=max(wait, 1))
    user = session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
    elif check_password_hash(user.password_hash, password) and user.active:
        return user
    session.add(LoginFailure(username=username, at=now))
    return None


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
    return session.execute(
        sa.update(ApiCredential).where(ApiCredential.prefix == prefix, ApiCredential.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def authenticate(session: Session, now: datetime, secret: str) -> Caller | None:
    """The caller holding `secret`, or None if it is unknown, revoked, expired or inactive."""
    if not secret.startswith(_KEY_PREFIX):
        return None
    digest = _hash_secret(secret)
    credential = session.scalars(
        sa.select(ApiCredential).where(ApiCredential.prefix == secret[: len(_KEY_PREFIX) + 8])
    ).all()
    match = next((c for c in credential if hmac.compare_digest(c.secret_hash, digest)), None)
    if match is None or match.revoked_at is not None or (match.expires_at and match.expires_at <= now):
        return None
    if match.kind == "institution_key":
        institution = session.get(Institution, match.institution_id)
        if institution is None or institution.status == "exited":
            return None
        actor = Actor(f"system:{institution.code}:{match.prefix}", INSTITUTION_SYSTEM,
                      institution_id=institution.id)
    else:
        user = session.get(UserAccount, match.user_id)
        if user is None or not user.active:
            return None
        actor = actor_for_user(user)
    stale = match.last_used_at is None or now - match.last_used_at > LAST_USED_RESOLUTION
    return Caller(actor, match.id, touch=stale)


def touch_credential(session: Session, now: datetime, credential_id: int) -> None:
    """Note when a credential was last used (at most every few minutes, so reads rarely write)."""
    session.execute(sa.update(ApiCredential).where(ApiCredential.id == credential_id).values(last_used_at=now))
