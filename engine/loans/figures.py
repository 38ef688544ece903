"""Keeping the board's figures (engine/models/figures.py) as applications and breaches change.

Every change goes through the ORM (the services and the named operations) except a breach's
insert, which is Core (engine/loans/binding.py record_breach calls `note_breach_recorded`). A
`before_flush` hook works out, for each changed application or breach, what it adds to the figures
before and after the change and keeps the difference in the session; just before the transaction
commits all of it is written with one upsert per table (`INSERT ... ON CONFLICT DO UPDATE SET n =
n + excluded.n`), rows in key order. So the figures commit or roll back with the change, two
transactions adding to one row never lose an increment (PostgreSQL's upsert locks the row), rows
are locked in one order (no deadlock between two steps) and only for the moment before the commit
(steps of one institution are not held back by each other's row lock). A savepoint rolled back
(the sweep's retry of a batch case by case) takes its part of the pending figures with it.

`rebuild` computes everything again from the tables (the migration's backfill, bulk loads).
"""

from __future__ import annotations

import functools
import weakref
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from engine.models import LoanApplication, ProcessInstance, SlaBreach
from engine.models.figures import STATUS_COLUMNS, BreachFigures, DailyFigures, DecisionDays, ProcessFigures
from engine.workflow.working_days import SHANGHAI

DAY, BREACH, HISTOGRAM, PROCESS = "day", "breach", "histogram", "process"
_PENDING, _SNAPSHOTS = "figures_pending", "figures_snapshots"
_TABLES = {DAY: DailyFigures.__table__, BREACH: BreachFigures.__table__, HISTOGRAM: DecisionDays.__table__,
           PROCESS: ProcessFigures.__table__}
_KEYS = {DAY: ("institution_id", "day"), BREACH: ("institution_id", "day", "kind"),
         HISTOGRAM: ("institution_id", "working_days"), PROCESS: ("definition_id",)}
_COUNTERS = {name: tuple(c.name for c in table.columns if c.name not in _KEYS[name])
             for name, table in _TABLES.items()}
_APPLICATION_FIELDS = ("institution_id", "status", "submitted_at", "accepted_at", "decided_at",
                       "decision_working_days", "approved_amount", "disbursed_amount", "disbursed_at")
_BREACH_FIELDS = ("institution_id", "kind", "breached_at", "resolved_at", "resolution")
Key = tuple[Any, ...]
Row = dict[str, Any]  # counter -> increment (int, or Decimal for money)
Changes = dict[Key, Row]


def _row() -> Row:
    return defaultdict(int)


def beijing_day(at: datetime) -> date:
    """The Asia/Shanghai date of an instant (a naive one is UTC, as the database stores it)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(SHANGHAI).date()


def application_contribution(values: dict[str, Any]) -> Changes:
    """What one application adds to the figures, from its column values."""
    out: Changes = defaultdict(_row)
    institution = values["institution_id"]
    submitted = beijing_day(values["submitted_at"])
    row = out[(DAY, institution, submitted)]
    row["submitted"] += 1
    if values["status"] in STATUS_COLUMNS:
        row[f"status_{values['status']}"] += 1
    decided_day = submitted
    if values["accepted_at"] is not None:
        out[(DAY, institution, beijing_day(values["accepted_at"]))]["accepted"] += 1
    if values["decided_at"] is not None:
        decided_day = beijing_day(values["decided_at"])
        out[(DAY, institution, decided_day)]["decided"] += 1
        if values["decision_working_days"] is not None:
            out[(HISTOGRAM, institution, values["decision_working_days"])]["decided"] += 1
    if values["approved_amount"] is not None:
        out[(DAY, institution, decided_day)]["approved"] += 1
        out[(DAY, institution, decided_day)]["amount_approved"] += Decimal(values["approved_amount"])
    if values["disbursed_amount"] is not None:
        disbursed_day = beijing_day(values["disbursed_at"]) if values["disbursed_at"] else decided_day
        out[(DAY, institution, disbursed_day)]["amount_disbursed"] += Decimal(values["disbursed_amount"])
    return out


def breach_contribution(values: dict[str, Any]) -> Changes:
    """What one breach adds: recorded on the day it was breached, resolved (and acted) on the day resolved."""
    out: Changes = defaultdict(_row)
    institution, kind = values["institution_id"], values["kind"]
    out[(BREACH, institution, beijing_day(values["breached_at"]), kind)]["recorded"] += 1
    if values["resolved_at"] is not None:
        row = out[(BREACH, institution, beijing_day(values["resolved_at"]), kind)]
        row["resolved"] += 1
        if values["resolution"] == "acted":
            row["acted"] += 1
    return out


def _values(session: Session, obj: Any, fields: tuple[str, ...], before: bool) -> dict[str, Any]:
    """The object's column values now, or as the database has them before this flush (`before`)."""
    if not before:
        return {name: getattr(obj, name) for name in fields}
    state = sa.inspect(obj)
    values, unknown = {}, False
    for name in fields:
        history = state.attrs[name].history
        if history.deleted:
            values[name] = history.deleted[0]
        elif history.added:  # changed after the object was expired: the old value was never loaded
            unknown = True
        else:
            values[name] = getattr(obj, name)
    if unknown:  # not flushed yet: the row still holds what it held before the change
        model = type(obj)
        row = session.execute(sa.select(*(getattr(model, name) for name in fields)).where(
            model.id == obj.id)).one()
        values = dict(zip(fields, row, strict=True))
    return values


def _pending(session: Session) -> Changes:
    pending: Changes = session.info.setdefault(_PENDING, {})
    return pending


def add(session: Session, changes: Changes, sign: int = 1) -> None:
    """Add `changes` (times `sign`) to what this transaction will write before it commits."""
    pending = _pending(session)
    for key, counters in changes.items():
        row = pending.setdefault(key, _row())
        for name, value in counters.items():
            row[name] = row.get(name, 0) + sign * value


def note_breach_recorded(session: Session, institution_id: int, kind: str, at: datetime) -> None:
    """A breach inserted with Core (not seen by the flush hook)."""
    add(session, {(BREACH, institution_id, beijing_day(at), kind): {"recorded": 1}})


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, ProcessInstance):  # an instance started (its definition: migrations keep the key)
            add(session, {(PROCESS, obj.definition_id): {"started": 1}})
    for kind, fields, contribution in ((LoanApplication, _APPLICATION_FIELDS, application_contribution),
                                       (SlaBreach, _BREACH_FIELDS, breach_contribution)):
        for obj in session.new:
            if isinstance(obj, kind):
                add(session, contribution(_values(session, obj, fields, before=False)))
        for obj in session.dirty:
            if isinstance(obj, kind) and session.is_modified(obj):
                add(session, contribution(_values(session, obj, fields, before=True)), -1)
                add(session, contribution(_values(session, obj, fields, before=False)))
        for obj in session.deleted:
            if isinstance(obj, kind):
                add(session, contribution(_values(session, obj, fields, before=True)), -1)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: its figures are written with the transaction's
    session.flush()
    write(session, session.info.pop(_PENDING, {}))


def _after_transaction_create(session: Session, transaction: Any) -> None:
    if transaction.nested:
        snapshot = {key: _row() | row for key, row in _pending(session).items()}
        session.info.setdefault(_SNAPSHOTS, {})[transaction] = snapshot


def _after_soft_rollback(session: Session, transaction: Any) -> None:
    if transaction.nested:
        snapshot = session.info.get(_SNAPSHOTS, {}).pop(transaction, None)
        if snapshot is not None:
            session.info[_PENDING] = snapshot
    elif transaction.parent is None:
        session.info.pop(_PENDING, None)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    # A released savepoint's snapshot is kept until the transaction ends (rollback() ends a savepoint
    # before `after_soft_rollback` sees it); the transaction's end forgets everything.
    if not transaction.nested and transaction.parent is None:
        session.info.pop(_SNAPSHOTS, None)
        session.info.pop(_PENDING, None)


# The factories whose sessions keep the figures. Not `sa.event.contains`: its registry is keyed by id() and
# outlives a discarded factory, so a new factory at a reused address would look installed and keep nothing.
_INSTALLED: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


def install(factory: sessionmaker[Session]) -> None:
    """Keep the figures for every session the factory makes (once per factory)."""
    if factory in _INSTALLED:
        return
    for name, listener in (("before_flush", _before_flush), ("before_commit", _before_commit),
                           ("after_transaction_create", _after_transaction_create),
                           ("after_soft_rollback", _after_soft_rollback),
                           ("after_transaction_end", _after_transaction_end)):
        sa.event.listen(factory, name, listener)
    _INSTALLED.add(factory)


def write(session: Session, changes: Changes) -> None:
    """One upsert per table adding `changes` to the figures, rows in key order; nothing for no change.

    The statements are prepared once per dialect and table and run with the rows as parameters (building
    an upsert per commit cost more than the rest of a step's own writes)."""
    dialect = session.get_bind().dialect.name
    for name in _TABLES:
        keys, counters = _KEYS[name], _COUNTERS[name]
        rows = [dict(zip(keys, key[1:], strict=True)) | {c: row.get(c, 0) for c in counters}
                for key, row in sorted(((k, r) for k, r in changes.items() if k[0] == name and any(r.values())),
                                       key=lambda item: item[0])]
        if rows:
            session.connection().execute(_upsert(dialect, name), rows)


@functools.cache
def _upsert(dialect: str, name: str) -> sa.Insert:
    table = _TABLES[name]
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return insert.on_conflict_do_update(index_elements=list(_KEYS[name]),
                                        set_={c: table.c[c] + insert.excluded[c] for c in _COUNTERS[name]})
