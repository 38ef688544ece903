"""Tables of access: user accounts, web sessions, API credentials (bank keys and user tokens),
idempotency, sign-in failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.encryption import Encrypted
from engine.workflow.models.base import Base, pk


class UserAccount(Base):
    """A person who signs in: enterprise user, officer, institution admin, supervisor, author, admin."""

    __tablename__ = "user_account"

    id: Mapped[int] = pk()
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(30))
    institution_id: Mapped[int | None] = mapped_column(sa.ForeignKey("institution.id"))
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"))
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    # For notifications by e-mail; optional. Personal data: stored encrypted (engine/platform/personal_data.py).
    email: Mapped[str | None] = mapped_column(Encrypted(254, "user_account.email"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class ApiCredential(Base):
    """A secret for the API: an institution's key (银行直连) or a user's bearer token.

    Only a SHA-256 of the secret is stored (the secret has 256 bits of entropy, so a slow hash
    adds nothing); the prefix lets a holder tell their keys apart and speeds the lookup.
    """

    __tablename__ = "api_credential"

    id: Mapped[int] = pk()
    kind: Mapped[str] = mapped_column(sa.String(20))  # institution_key | user_token
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    institution_id: Mapped[int | None] = mapped_column(sa.ForeignKey("institution.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The first response to a state-changing call made with an Idempotency-Key."""

    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("credential_id", "key", name="uq_idempotency_credential_key"),)

    id: Mapped[int] = pk()
    credential_id: Mapped[int] = mapped_column(sa.ForeignKey("api_credential.id"))
    key: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(20))  # in_progress | done
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in from a source (an IPv4 address or an IPv6 /64), kept briefly to slow guessing."""

    __tablename__ = "login_failure"
    __table_args__ = (sa.Index("ix_login_failure_username_at", "username", "at"),
                      sa.Index("ix_login_failure_source_at", "source", "at"))

    id: Mapped[int] = pk()
    username: Mapped[str] = mapped_column(sa.String(100))
    source: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]


class SigninSource(Base):
    """A source an account signed in from: failures of others do not slow the account there."""

    __tablename__ = "signin_source"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_success_at: Mapped[datetime]


class WebSession(Base):
    """A signed-in browser; the Flask session carries the secret whose SHA-256 is `id`.

    `password_mark` ties the session to the password it was opened with, so that a password
    reset elsewhere ends it too; `revoked_at` ends it for good (sign-out, password change).
    """

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    password_mark: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
