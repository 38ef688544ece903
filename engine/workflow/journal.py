"""The audit trail and the outbox, both written in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.models import AuditEvent, OutboxMessage, table_of

_INSERT_AUDIT = sa.insert(table_of(AuditEvent))
_INSERT_OUTBOX = sa.insert(table_of(OutboxMessage))
_DEFERRED = "journal_deferred"


@contextmanager
def deferred_journal(session: Session) -> Iterator[None]:
    """Audit events and outbox messages written inside go out on leaving, one statement per table (the
    sweep's batches, a list's reads). If the body raises, nothing is written: the transaction is being
    rolled back. Inside another deferred journal, the rows join that one's."""
    if _DEFERRED in session.info:
        yield
        return
    rows: dict[str, list[dict[str, Any]]] = {"audit": [], "outbox": []}
    session.info[_DEFERRED] = rows
    try:
        yield
    finally:
        session.info.pop(_DEFERRED, None)
    connection = session.connection()
    for statement, params in ((_INSERT_AUDIT, rows["audit"]), (_INSERT_OUTBOX, rows["outbox"])):
        if params:
            connection.execute(statement, params)


def _write(session: Session, kind: str, statement: sa.Insert, params: dict[str, Any]) -> None:
    deferred = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred[kind].append(params)
    else:
        session.connection().execute(statement, params)


def record_audit(
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    *,
    application_id: int | None = None,
    instance_id: int | None = None,
    status_before: str | None = None,
    status_after: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event; events are never updated or deleted."""
    _write(session, "audit", _INSERT_AUDIT, {
        "at": at, "actor": actor, "action": action, "application_id": application_id,
        "instance_id": instance_id, "status_before": status_before, "status_after": status_after,
        "detail": detail or {},
    })


def enqueue(session: Session, at: datetime, topic: str, payload: dict[str, Any]) -> None:
    """Queue a message for delivery; it leaves only if the surrounding transaction commits."""
    _write(session, "outbox", _INSERT_OUTBOX, {
        "created_at": at, "topic": topic, "idempotency_key": uuid.uuid4().hex, "payload": payload,
        "status": "pending", "attempts": 0, "next_attempt_at": at, "delivered_at": None, "last_error": None,
    })
