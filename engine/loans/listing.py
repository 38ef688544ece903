"""Paged, sorted and searchable lists: an institution's open tasks, applications found by text, breaches.

The officers' inbox, the supervisors' application list and the breach list are keyset pages
(engine/loans/keyset.py: after or before a row, through an index; stable while rows come and go).
Their totals come from the kept figures where those count the same rows (the supervisors' lists
without a text search: engine/loans/figures.py); otherwise they are counted up to COUNT_CAP rows
only and shown as "1,000+", so a list of a million rows never costs a full count per request.
The enterprises' own lists (a few hundred rows at most) stay offset pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import keyset, metrics
from engine.loans.actors import SUPERVISOR, Actor
from engine.loans.keyset import SortKey
from engine.loans.queries import InboxRow, _visible_applications, filter_breaches
from engine.models import BreachFigures, Enterprise, Institution, LoanApplication, SlaBreach, TaskRow

COUNT_CAP = 1_000
MAX_OFFSET = 1_000_000


@dataclass(frozen=True)
class Slice:
    """One page of a list: its rows, the number of rows in the whole list (at most `COUNT_CAP`)."""

    items: list
    total: int
    capped: bool  # the list has more than `total` rows


def count_capped(session: Session, query: sa.Select, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows `query` gives, counting no further than `cap` (then: cap, True)."""
    inner = (query.order_by(None).with_only_columns(sa.literal(1), maintain_column_froms=True)
             .limit(cap + 1).subquery())
    found = int(session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)
    return (cap, True) if found > cap else (found, False)


INBOX_SORTS = {
    "due": SortKey(TaskRow.due_at, datetime, nullable=True),
    # (key, application, task): the walk follows the applications' (institution, key, id) index.
    "amount": SortKey(LoanApplication.amount, Decimal, then=LoanApplication.id),
    "submitted": SortKey(LoanApplication.submitted_at, datetime, then=LoanApplication.id),
}


@dataclass(frozen=True)
class KeysetSlice:
    """One keyset page: its rows, the list's total (at most `COUNT_CAP` unless kept), the cursors around it."""

    items: list
    total: int
    capped: bool  # the list has more than `total` rows
    previous: str | None  # the cursor of the page before (for `before=`), None on the first page
    next: str | None  # the cursor of the page after (for `after=`), None on the last page


def _ordered(keys: tuple, descending: bool, tiebreak: sa.SQLColumnExpression[Any]) -> list:
    if descending:
        return [key.desc() for key in keys] + [tiebreak.desc()]
    return [*keys, tiebreak]


def inbox_page(session: Session, institution_id: int, *, step: str | None = None,
               due_before: datetime | None = None, enterprise: str | None = None, assignee: str | None = None,
               claimed: bool | None = None, sort: str = "due", descending: bool = False,
               after: str | None = None, before: str | None = None, limit: int = 50) -> KeysetSlice:
    """Open tasks of one institution, sorted (soonest deadline first by default): the page after or
    before a cursor, and the total counted up to COUNT_CAP."""
    # The institution's own tasks: a case also has tasks of the enterprise (补充材料, 回访) under its tenancy.
    conditions = [TaskRow.institution_id == institution_id, TaskRow.state == "open", TaskRow.role == "institution"]
    if step:
        conditions.append(TaskRow.bpmn_id == step)
    if due_before:
        conditions.append(TaskRow.due_at < due_before)
    if assignee:
        conditions.append(TaskRow.assignee == assignee)
    if claimed is not None:
        conditions.append(TaskRow.assignee.is_not(None) if claimed else TaskRow.assignee.is_(None))
    key = INBOX_SORTS.get(sort, INBOX_SORTS["due"])
    query = (
        sa.select(TaskRow, LoanApplication, Enterprise.name, *key.columns, TaskRow.id)
        .join(LoanApplication, LoanApplication.id == TaskRow.application_id)
        .join(Enterprise, Enterprise.id == LoanApplication.enterprise_id)
        .where(*conditions, LoanApplication.institution_id == institution_id)  # the same: for its index
    )
    if enterprise:
        query = query.where(Enterprise.name.contains(enterprise, autoescape=True))
    # Without a filter on the enterprise the total needs the task index only, not the joins.
    total, capped = count_capped(session, query if enterprise else sa.select(TaskRow.id).where(*conditions))
    found = keyset.page(session, query, key, TaskRow.id, descending=descending, after=keyset.decode(after, key),
                        before=keyset.decode(before, key), limit=limit)
    return KeysetSlice([InboxRow(row[0], row[1], row[2]) for row in found.rows],
                       total, capped, keyset.encode(found.previous), keyset.encode(found.next))


@dataclass(frozen=True)
class FoundApplication:
    application: LoanApplication
    enterprise_name: str
    credit_code: str
    institution_name: str


SEARCH_SORTS = {
    "submitted": SortKey(LoanApplication.submitted_at, datetime),
    "amount": SortKey(LoanApplication.amount, Decimal),
    "reference": SortKey(LoanApplication.reference, str),
    "status": SortKey(LoanApplication.status, str),
}


def _matching(actor: Actor, text: str, status: str | None, institution_id: int | None,
              condition: sa.ColumnElement[bool] | None) -> sa.Select:
    """Applications the actor may see, narrowed by `condition`, status, institution and text.

    Tenancy comes first: the text only narrows the rows `_visible_applications` already allows; `condition`
    narrows them further (an institution: the cases it may still read, engine.platform.authorizations).
    """
    visible = _visible_applications(actor)
    if condition is not None:
        visible = visible.where(condition)
    if status:
        visible = visible.where(LoanApplication.status == status)
    if institution_id:
        visible = visible.where(LoanApplication.institution_id == institution_id)
    if text:
        enterprises = sa.select(Enterprise.id).where(sa.or_(
            Enterprise.name.contains(text, autoescape=True),
            Enterprise.credit_code.startswith(text.upper(), autoescape=True)))
        visible = visible.where(sa.or_(LoanApplication.reference.startswith(text.upper(), autoescape=True),
                                       LoanApplication.enterprise_id.in_(enterprises)))
    return visible


def _found(session: Session, page_ids: list[int]) -> list[FoundApplication]:
    rows = {row[0].id: row for row in session.execute(
        sa.select(LoanApplication, Enterprise.name, Enterprise.credit_code, Institution.name)
        .join(Enterprise, Enterprise.id == LoanApplication.enterprise_id)
        .join(Institution, Institution.id == LoanApplication.institution_id)
        .where(LoanApplication.id.in_(page_ids)))} if page_ids else {}
    return [FoundApplication(*rows[i]) for i in page_ids if i in rows]


def search_applications(session: Session, actor: Actor, text: str | None = None, *, status: str | None = None,
                        institution_id: int | None = None, sort: str = "submitted", descending: bool = True,
                        offset: int = 0, limit: int = 50, condition: sa.ColumnElement[bool] | None = None) -> Slice:
    """Applications the actor may see whose reference, enterprise name or credit code matches `text`, by
    offset (an enterprise's own list: a few hundred rows at most)."""
    visible = _matching(actor, (text or "").strip(), status, institution_id, condition)
    total, capped = count_capped(session, visible)
    keys = (SEARCH_SORTS.get(sort, SEARCH_SORTS["submitted"]).column,)
    ids = visible.with_only_columns(LoanApplication.id).order_by(
        *_ordered(keys, descending, LoanApplication.id)).offset(min(offset, MAX_OFFSET)).limit(limit)
    return Slice(_found(session, list(session.scalars(ids))), total, capped)


def find_applications(session: Session, actor: Actor, text: str | None = None, *, status: str | None = None,
                      institution_id: int | None = None, sort: str = "submitted", descending: bool = True,
                      after: str | None = None, before: str | None = None, limit: int = 50,
                      condition: sa.ColumnElement[bool] | None = None) -> KeysetSlice:
    """As `search_applications`, a keyset page; a supervisor's total without a text comes from the kept
    figures (exact), any other is counted up to COUNT_CAP."""
    text = (text or "").strip()
    visible = _matching(actor, text, status, institution_id, condition)
    if actor.role == SUPERVISOR and not text and condition is None:
        counts = metrics.status_counts(session, institution_id)
        total, capped = (counts.get(status, 0) if status else sum(counts.values())), False
    else:
        total, capped = count_capped(session, visible)
    key = SEARCH_SORTS.get(sort, SEARCH_SORTS["submitted"])
    found = keyset.page(session, visible.with_only_columns(LoanApplication.id, *key.columns, LoanApplication.id),
                        key, LoanApplication.id, descending=descending, after=keyset.decode(after, key),
                        before=keyset.decode(before, key), limit=limit)
    return KeysetSlice(_found(session, [row[0] for row in found.rows]), total, capped,
                       keyset.encode(found.previous), keyset.encode(found.next))


BREACH_ORDER = SortKey(SlaBreach.id, int)


def breach_page(session: Session, *, institution_id: int | None = None, kind: str | None = None,
                open_only: bool = False, after: str | None = None, before: str | None = None,
                limit: int = 50) -> KeysetSlice:
    """The supervisors' breach list, latest first: a keyset page and its exact total from the kept figures."""
    recorded, resolved = sa.func.sum(BreachFigures.recorded), sa.func.sum(BreachFigures.resolved)
    counted = sa.select(recorded - resolved if open_only else recorded)
    if institution_id:
        counted = counted.where(BreachFigures.institution_id == institution_id)
    if kind:
        counted = counted.where(BreachFigures.kind == kind)
    total = int(session.scalar(counted) or 0)
    query = filter_breaches(sa.select(SlaBreach, LoanApplication.reference, SlaBreach.id, SlaBreach.id).join(
        LoanApplication, LoanApplication.id == SlaBreach.application_id),
        institution_id=institution_id, kind=kind, open_only=open_only)
    found = keyset.page(session, query, BREACH_ORDER, SlaBreach.id, descending=True,
                        after=keyset.decode(after, BREACH_ORDER), before=keyset.decode(before, BREACH_ORDER),
                        limit=limit)
    return KeysetSlice([(breach, reference) for breach, reference, _, _ in found.rows], total, False,
                       keyset.encode(found.previous), keyset.encode(found.next))
