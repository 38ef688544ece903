"""Paged, sorted and searchable lists: an institution's open tasks, applications found by text.

Pages are offset pages (a user jumps to page N and sorts by any column); totals are counted up
to COUNT_CAP rows only, so that a list of 100,000 rows never costs a full count per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import Actor
from engine.loans.queries import InboxRow, _visible_applications, filter_breaches
from engine.models import Enterprise, Institution, LoanApplication, SlaBreach, TaskRow

COUNT_CAP = 10_000
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
    "due": (TaskRow.due_at.is_(None), TaskRow.due_at),
    "amount": (LoanApplication.amount,),
    "submitted": (LoanApplication.submitted_at,),
}


def _ordered(keys: tuple, descending: bool, tiebreak: sa.SQLColumnExpression[Any]) -> list:
    if descending:
        return [key.desc() for key in keys] + [tiebreak.desc()]
    return [*keys, tiebreak]


def inbox_page(session: Session, institution_id: int, *, step: str | None = None,
               due_before: datetime | None = None, enterprise: str | None = None, assignee: str | None = None,
               claimed: bool | None = None, sort: str = "due", descending: bool = False,
               offset: int = 0, limit: int = 50) -> Slice:
    """Open tasks of one institution, sorted (soonest deadline first by default), one page and the total."""
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
    query = (
        sa.select(TaskRow, LoanApplication, Enterprise.name)
        .join(LoanApplication, LoanApplication.id == TaskRow.application_id)
        .join(Enterprise, Enterprise.id == LoanApplication.enterprise_id)
        .where(*conditions)
    )
    if enterprise:
        query = query.where(Enterprise.name.contains(enterprise, autoescape=True))
    # Without a filter on the enterprise the total needs the task index only, not the joins.
    total, capped = count_capped(session, query if enterprise else sa.select(TaskRow.id).where(*conditions))
    keys = INBOX_SORTS.get(sort, INBOX_SORTS["due"])
    rows = session.execute(query.order_by(*_ordered(keys, descending, TaskRow.id))
                           .offset(min(offset, MAX_OFFSET)).limit(limit))
    return Slice([InboxRow(task, application, name) for task, application, name in rows], total, capped)


@dataclass(frozen=True)
class FoundApplication:
    application: LoanApplication
    enterprise_name: str
    credit_code: str
    institution_name: str


SEARCH_SORTS = {
    "submitted": (LoanApplication.submitted_at,),
    "amount": (LoanApplication.amount,),
    "reference": (LoanApplication.reference,),
    "status": (LoanApplication.status,),
}


def search_applications(session: Session, actor: Actor, text: str | None = None, *, status: str | None = None,
                        institution_id: int | None = None, sort: str = "submitted", descending: bool = True,
                        offset: int = 0, limit: int = 50, condition: sa.ColumnElement[bool] | None = None) -> Slice:
    """Applications the actor may see whose reference, enterprise name or credit code matches `text`.

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
    text = (text or "").strip()
    if text:
        enterprises = sa.select(Enterprise.id).where(sa.or_(
            Enterprise.name.contains(text, autoescape=True),
            Enterprise.credit_code.startswith(text.upper(), autoescape=True)))
        visible = visible.where(sa.or_(LoanApplication.reference.startswith(text.upper(), autoescape=True),
                                       LoanApplication.enterprise_id.in_(enterprises)))
    total, capped = count_capped(session, visible)
    keys = SEARCH_SORTS.get(sort, SEARCH_SORTS["submitted"])
    ids = visible.with_only_columns(LoanApplication.id).order_by(
        *_ordered(keys, descending, LoanApplication.id)).offset(min(offset, MAX_OFFSET)).limit(limit)
    page_ids = list(session.scalars(ids))
    rows = {row[0].id: row for row in session.execute(
        sa.select(LoanApplication, Enterprise.name, Enterprise.credit_code, Institution.name)
        .join(Enterprise, Enterprise.id == LoanApplication.enterprise_id)
        .join(Institution, Institution.id == LoanApplication.institution_id)
        .where(LoanApplication.id.in_(page_ids)))} if page_ids else {}
    return Slice([FoundApplication(*rows[i]) for i in page_ids if i in rows], total, capped)


def breach_page(session: Session, *, institution_id: int | None = None, kind: str | None = None,
                open_only: bool = False, offset: int = 0, limit: int = 50) -> Slice:
    """The supervisors' breach list, latest first, one page and the total."""
    conditions = filter_breaches(sa.select(SlaBreach.id), institution_id=institution_id, kind=kind,
                                 open_only=open_only)
    total, capped = count_capped(session, conditions)
    query = filter_breaches(sa.select(SlaBreach, LoanApplication.reference).join(
        LoanApplication, LoanApplication.id == SlaBreach.application_id),
        institution_id=institution_id, kind=kind, open_only=open_only)
    rows = session.execute(query.order_by(SlaBreach.id.desc()).offset(min(offset, MAX_OFFSET)).limit(limit)).all()
    return Slice(list(rows), total, capped)
