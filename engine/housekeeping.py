"""Housekeeping: forget what is only kept for a while (idempotency records, sign-in failures, old tokens).

Audit events, breaches and institutions' API keys are never purged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine.access import LOGIN_WINDOW
from engine.idempotency import RETENTION
from engine.models import ApiCredential, IdempotencyRecord, LoginFailure
from engine.runtime import Engine

EXPIRED_TOKEN_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    idempotency_records: int
    login_failures: int
    user_tokens: int


def purge_expired(engine: Engine) -> Purged:
    """Delete idempotency records past their retention, old sign-in failures and long-expired user tokens."""
    now = engine.clock.now()
    with engine.transaction() as session:
        dead_tokens = list(session.scalars(sa.select(ApiCredential.id).where(
            ApiCredential.kind == "user_token",
            sa.or_(ApiCredential.expires_at < now - EXPIRED_TOKEN_GRACE,
                   ApiCredential.revoked_at < now - EXPIRED_TOKEN_GRACE))))
        records = session.execute(sa.delete(IdempotencyRecord).where(sa.or_(
            IdempotencyRecord.created_at < now - RETENTION,
            IdempotencyRecord.credential_id.in_(dead_tokens)))).rowcount
        failures = session.execute(sa.delete(LoginFailure).where(LoginFailure.at < now - LOGIN_WINDOW)).rowcount
        tokens = session.execute(sa.delete(ApiCredential).where(ApiCredential.id.in_(dead_tokens))).rowcount
    return Purged(records, failures, tokens)
