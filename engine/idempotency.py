"""Safe retries: the first response to an Idempotency-Key is kept and replayed.

A request claims its key by inserting a row (the unique constraint decides who is first), runs,
and stores its response. A retry with the same body gets that response; with another body it is
refused; while the first is still running, a retry waits for it. A failure on our side (5xx)
releases the key so that the client may try again. A claim left `in_progress` for longer than
STALE_AFTER (its process died mid-request) is taken over by the next retry; the step itself is
still protected by the workflow (a step already taken is refused). Records are kept for
RETENTION, then purged by the housekeeping job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from engine.errors import ConcurrencyConflict, EngineError
from engine.models import IdempotencyRecord
from engine.runtime import Engine

WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
STALE_AFTER = timedelta(minutes=2)
RETENTION = timedelta(hours=24)


class IdempotencyKeyReused(EngineError):
    """The key was used before with a different request."""

    code = "idempotency_key_reused"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def claim(engine: Engine, credential_id: int, key: str, request_hash: str) -> StoredResponse | None:
    """Claim `key` for this request; return the stored response if the request was already made."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with engine.transaction() as session:
            record = session.scalars(sa.select(IdempotencyRecord).where(
                IdempotencyRecord.credential_id == credential_id, IdempotencyRecord.key == key)).first()
            if record is None:
                try:
                    with session.begin_nested():
                        session.add(IdempotencyRecord(credential_id=credential_id, key=key,
                                                      request_hash=request_hash, state="in_progress",
                                                      created_at=engine.clock.now()))
                    return None
                except sa.exc.IntegrityError:
                    pass  # another request claimed it a moment ago: look again
            elif record.request_hash != request_hash:
                raise IdempotencyKeyReused("This Idempotency-Key was used with a different request")
            elif record.state == "done":
                return StoredResponse(record.status_code or 200, record.response or {})
            elif record.created_at < engine.clock.now() - STALE_AFTER and _take_over(session, engine, record):
                return None
        if time.monotonic() > deadline:
            raise ConcurrencyConflict("A request with this Idempotency-Key is still being processed")
        time.sleep(POLL_SECONDS)


def _take_over(session: sa.orm.Session, engine: Engine, record: IdempotencyRecord) -> bool:
    """Claim an abandoned in-progress record; only one retry wins (compare-and-set on created_at)."""
    taken = session.execute(sa.update(IdempotencyRecord).where(
        IdempotencyRecord.id == record.id, IdempotencyRecord.state == "in_progress",
        IdempotencyRecord.created_at == record.created_at,
    ).values(created_at=engine.clock.now()).execution_options(synchronize_session=False))
    return taken.rowcount == 1


def store(engine: Engine, credential_id: int, key: str, status_code: int, body: dict[str, Any]) -> None:
    """Keep the response of the request that claimed `key`."""
    with engine.transaction() as session:
        session.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.credential_id == credential_id, IdempotencyRecord.key == key
        ).values(state="done", status_code=status_code, response=body))


def release(engine: Engine, credential_id: int, key: str) -> None:
    """Forget a claim whose request failed on our side, so that a retry runs again."""
    with engine.transaction() as session:
        session.execute(sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.credential_id == credential_id, IdempotencyRecord.key == key,
            IdempotencyRecord.state == "in_progress"))
