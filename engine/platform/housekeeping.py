"""Housekeeping: forget what is only kept for a while (idempotency records, sign-in failures, old tokens,
ended web sessions, sources not signed in from for long).

Audit events, breaches and institutions' API keys are never purged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine.models import ApiCredential, IdempotencyRecord, LoginFailure, PendingRegistration
from engine.models.access import SigninSource, WebSession
from engine.platform.access import FAILURE_RETENTION, KNOWN_SOURCE_MEMORY, WEB_SESSION_IDLE
from engine.platform.idempotency import RETENTION
from engine.platform.registration.service import RETENTION as REGISTRATION_RETENTION
from engine.workflow.database import rows_matched
from engine.workflow.runtime import Engine

EXPIRED_TOKEN_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    idempotency_records: int
    login_failures: int
    user_tokens: int
    web_sessions: int
    registrations: int = 0  # pending self-registrations past their lifetime (hashed password and code)


def purge_expired(engine: Engine) -> Purged:
    """Delete idempotency records past their retention, sign-in failures older than a day, long-expired
    user tokens, web sessions ended a day ago or idle too long, and sources unused for a month."""
    now = engine.clock.now()
    with engine.transaction() as session:
        dead_tokens = list(session.scalars(sa.select(ApiCredential.id).where(
            ApiCredential.kind == "user_token",
            sa.or_(ApiCredential.expires_at < now - EXPIRED_TOKEN_GRACE,
                   ApiCredential.revoked_at < now - EXPIRED_TOKEN_GRACE))))
        records = rows_matched(session.execute(sa.delete(IdempotencyRecord).where(sa.or_(
            IdempotencyRecord.created_at < now - RETENTION,
            IdempotencyRecord.credential_id.in_(dead_tokens)))))
        failures = rows_matched(session.execute(
            sa.delete(LoginFailure).where(LoginFailure.at < now - FAILURE_RETENTION)))
        tokens = rows_matched(session.execute(sa.delete(ApiCredential).where(ApiCredential.id.in_(dead_tokens))))
        web_sessions = rows_matched(session.execute(sa.delete(WebSession).where(sa.or_(
            WebSession.revoked_at < now - EXPIRED_TOKEN_GRACE,
            WebSession.last_seen_at < now - WEB_SESSION_IDLE))))
        session.execute(sa.delete(SigninSource).where(SigninSource.last_success_at < now - KNOWN_SOURCE_MEMORY))
        registrations = rows_matched(session.execute(sa.delete(PendingRegistration).where(
            PendingRegistration.created_at < now - REGISTRATION_RETENTION)))
    return Purged(records, failures, tokens, web_sessions, registrations)
