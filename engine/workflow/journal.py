"""The audit trail and the outbox, both written in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.models import AuditEvent, OutboxMessage, table_of

_INSERT_AUDIT = sa.insert(table_of(AuditEvent))
_INSERT_OUTBOX = sa.insert(table_of(OutboxMessage))
_DEFERRED = "journal_deferred"
_CONDITIONAL = "journal_deferred_conditional"


@contextmanager
def deferred_journal(session: Session) -> Iterator[None]:
    """Audit events, outbox messages and other append-only rows (`write_or_defer`) written inside go out
    on leaving, one statement per kind (the sweep's batches, a list's reads). Rows whose consequences
    depend on their going in (`insert_then`) go first, and their consequences join the rows deferred.
    If the body raises, nothing is written: the transaction is being rolled back. Inside another deferred
    journal, the rows join that one's."""
    if _DEFERRED in session.info:
        yield
        return
    rows: dict[sa.Insert | sa.Update, list[dict[str, Any]]] = {}
    conditional: dict[sa.Insert, list[tuple[dict[str, Any], tuple[Any, ...], Callable[[], None]]]] = {}
    session.info[_DEFERRED], session.info[_CONDITIONAL] = rows, conditional
    try:
        yield
        connection = session.connection()
        for insert, entries in conditional.items():  # their consequences may defer more rows
            inserted = {tuple(row) for row in connection.execute(insert, [params for params, _, _ in entries])}
            for _, key, then in entries:
                if key in inserted:
                    inserted.discard(key)  # the same row deferred twice went in once
                    then()
    finally:
        session.info.pop(_DEFERRED, None)
        session.info.pop(_CONDITIONAL, None)
    for statement, params in rows.items():
        connection.execute(statement, params)


def insert_then(session: Session, statement: sa.Insert, params: dict[str, Any], key: tuple[Any, ...],
                then: Callable[[], None]) -> bool | None:
    """Insert a row that may clash with one already there (`statement` skips conflicts and returns the
    row's `key` columns), and call `then` only if this row went in. Consequences (audit, messages, figures)
    so follow the row that was really written, even when another transaction wrote the same one meanwhile.

    Whether it went in (True/False), or None if that is decided with the enclosing deferred journal's rows.
    """
    conditional = session.info.get(_CONDITIONAL)
    if conditional is not None:
        conditional.setdefault(statement, []).append((params, key, then))
        return None
    inserted = session.connection().execute(statement, params).first() is not None
    if inserted:
        then()
    return inserted


def is_deferred(session: Session) -> bool:
    """Whether rows written now go out with an enclosing deferred journal's."""
    return _DEFERRED in session.info


def write_or_defer(session: Session, statement: sa.Insert | sa.Update,
                   params: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Run `statement` for these rows now, or with the enclosing deferred journal's rows of the same
    statement (an insert of append-only rows, or an update no later work of the batch reads back)."""
    deferred = session.info.get(_DEFERRED)
    if deferred is None:
        session.connection().execute(statement, params)
    elif isinstance(params, dict):
        deferred.setdefault(statement, []).append(params)
    else:
        deferred.setdefault(statement, []).extend(params)


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
    write_or_defer(session, _INSERT_AUDIT, {
        "at": at, "actor": actor, "action": action, "application_id": application_id,
        "instance_id": instance_id, "status_before": status_before, "status_after": status_after,
        "detail": detail or {},
    })


def enqueue(session: Session, at: datetime, topic: str, payload: dict[str, Any]) -> None:
    """Queue a message for delivery; it leaves only if the surrounding transaction commits."""
    write_or_defer(session, _INSERT_OUTBOX, {
        "created_at": at, "topic": topic, "idempotency_key": uuid.uuid4().hex, "payload": payload,
        "status": "pending", "attempts": 0, "next_attempt_at": at, "delivered_at": None, "last_error": None,
    })
