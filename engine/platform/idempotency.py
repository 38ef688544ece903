"""Safe retries: the first response to an Idempotency-Key is kept and replayed.

The request's work and its kept response commit together, in one transaction: the key is written with
the response, after the work (`keep`), in one statement. A crash at any point leaves either nothing (the
retry runs the request) or the finished result (the retry gets it): never an application without its
response, or a response without its application. If the key turns out to be taken (a retry of a request
that finished, or the same request twice at once: the second one's insert waits on the first one's
uncommitted row on PostgreSQL, on the write lock on SQLite), the work is rolled back and the kept
response replayed (`answered`). A refused request looks its key up first (`keep_refusal`): a retry of a
step that was taken is answered with the step's response, not with "already taken".

A retry with the same body gets that response; with another body it is refused. A refusal that
would be the same next time (a validation error, a step already taken) is kept too; a transient
one (a conflict, a rate limit, a failure on our side) is not, so the client may simply retry.
Records are kept for RETENTION, then purged by the housekeeping job.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.models import IdempotencyRecord, table_of
from engine.workflow.database import insert_ignoring_conflicts
from engine.workflow.errors import ConcurrencyConflict, EngineError, RateLimited
from engine.workflow.runtime import Engine

RETENTION = timedelta(hours=24)
_RECORD = table_of(IdempotencyRecord)


class IdempotencyKeyReused(EngineError):
    """The key was used before with a different request."""

    code = "idempotency_key_reused"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def keep(session: Session, now: datetime, credential_id: int, key: str, request_hash: str, status_code: int,
         body: dict[str, Any]) -> bool:
    """Keep the response under `key` in the transaction of the work that made it; False if the key is
    taken (then roll the work back and replay what `answered` finds). A record of this request left
    half-done (`in_progress`, by the older claim-first scheme) is completed instead."""
    return session.execute(_keep_statement(session.get_bind().dialect.name), {
        "credential_id": credential_id, "key": key, "request_hash": request_hash, "state": "done",
        "status_code": status_code, "response": body, "created_at": now,
    }).first() is not None


@functools.cache
def _keep_statement(dialect_name: str) -> sa.Insert:
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(_RECORD)
    return insert.on_conflict_do_update(
        index_elements=[_RECORD.c.credential_id, _RECORD.c.key],
        set_={"state": insert.excluded.state, "status_code": insert.excluded.status_code,
              "response": insert.excluded.response},
        where=sa.and_(_RECORD.c.state != "done", _RECORD.c.request_hash == insert.excluded.request_hash),
    ).returning(_RECORD.c.id)


def answered(session: Session, credential_id: int, key: str, request_hash: str) -> StoredResponse | None:
    """The response kept under `key`, if the request with this body was answered; refused if the key was
    used with another body."""
    record = session.execute(sa.select(_RECORD.c.request_hash, _RECORD.c.state, _RECORD.c.status_code,
                                       _RECORD.c.response)
                             .where(_RECORD.c.credential_id == credential_id, _RECORD.c.key == key)).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request")
    if record.state == "done":
        return StoredResponse(record.status_code or 200, record.response or {})
    return None  # half-done (an older scheme's claim whose request never finished): `keep` completes it


def claim(session: Session, now: datetime, credential_id: int, key: str,
          request_hash: str) -> StoredResponse | None:
    """Claim `key` before the work (a refusal kept on its own, `keep_refusal`): None if this request is to
    run, else the stored response."""
    inserted = session.execute(insert_ignoring_conflicts(session, _RECORD, _RECORD.c.id), {
        "credential_id": credential_id, "key": key, "request_hash": request_hash, "state": "in_progress",
        "status_code": None, "response": None, "created_at": now,
    }).first()
    if inserted is not None:
        return None
    return answered(session, credential_id, key, request_hash)


def store(session: Session, credential_id: int, key: str, status_code: int, body: dict[str, Any]) -> None:
    """Keep the response of the request that claimed `key`, in the same transaction as its effect."""
    session.execute(sa.update(_RECORD).where(
        _RECORD.c.credential_id == credential_id, _RECORD.c.key == key
    ).values(state="done", status_code=status_code, response=body))


def keep_refusal(engine: Engine, credential_id: int, key: str, request_hash: str, status_code: int,
                 body: dict[str, Any]) -> StoredResponse | None:
    """Keep a lasting refusal under `key` (its own transaction, after the refused one rolled back).

    Returns the response already stored if another request with this key finished meanwhile.
    """
    with engine.transaction() as session:
        stored = claim(session, engine.clock.now(), credential_id, key, request_hash)
        if stored is None:
            store(session, credential_id, key, status_code, body)
        return stored


def is_lasting(error: EngineError) -> bool:
    """Whether the same request would be refused the same way again (so the refusal is kept)."""
    if isinstance(error, (RateLimited, IdempotencyKeyReused)):
        return False
    return not (isinstance(error, ConcurrencyConflict) and error.retryable)
