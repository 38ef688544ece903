"""Read-only figures from the projections and the ledger (never from workflow state)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import ENTERPRISE, INSTITUTION_ROLES, SUPERVISOR, SYSTEM, Actor
from engine.loans.statuses import OPEN_STATUSES
from engine.models import (
    AuditEvent,
    Institution,
    LoanApplication,
    LoanProduct,
    SlaBreach,
    TaskRow,
    TimerRow,
    UserAccount,
)
from engine.workflow.errors import NotFound
from engine.workflow.working_days import SHANGHAI


@dataclass(frozen=True)
class PlatformSummary:
    open_applications: int
    open_tasks: int
    waiting_timers: int
    open_breaches: int
    provisional_deadlines: int


def platform_summary(session: Session) -> PlatformSummary:
    """Today's headline numbers for the landing page."""
    def count(query: sa.Select) -> int:
        return int(session.scalar(query) or 0)

    return PlatformSummary(
        open_applications=count(sa.select(sa.func.count()).select_from(LoanApplication)
                                .where(LoanApplication.status.in_(OPEN_STATUSES))),
        open_tasks=count(sa.select(sa.func.count()).select_from(TaskRow).where(TaskRow.state == "open")),
        waiting_timers=count(sa.select(sa.func.count()).select_from(TimerRow).where(TimerRow.state == "waiting")),
        open_breaches=count(sa.select(sa.func.count()).select_from(SlaBreach)
                            .where(SlaBreach.resolved_at.is_(None))),
        provisional_deadlines=count(sa.select(sa.func.count()).select_from(TimerRow)
                                    .where(TimerRow.state == "waiting", TimerRow.provisional.is_(True))),
    )


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: int | None


def _visible_applications(actor: Actor) -> sa.Select:
    query = sa.select(LoanApplication)
    if actor.role == ENTERPRISE:
        return query.where(LoanApplication.enterprise_id == actor.enterprise_id)
    if actor.role in INSTITUTION_ROLES:
        return query.where(LoanApplication.institution_id == actor.institution_id)
    if actor.role in (SUPERVISOR, SYSTEM):
        return query
    return query.where(sa.false())


def application_for(session: Session, actor: Actor, reference: str) -> LoanApplication:
    """One application the actor may see, by reference; anything else is 'not found'."""
    found = session.scalars(_visible_applications(actor).where(LoanApplication.reference == reference)).first()
    if found is None:
        raise NotFound(f"Application {reference} doesn't exist.")
    return found


def list_applications(session: Session, actor: Actor, *, status: str | None = None, step: str | None = None,
                      due_before: datetime | None = None, updated_since: datetime | None = None,
                      after_id: int | None = None, limit: int = 50,
                      condition: sa.ColumnElement[bool] | None = None) -> Page:
    """Applications the actor may see, oldest first, a page at a time (keyset on id); `condition` narrows
    them further (e.g. an institution's: only cases it may still read, engine.platform.authorizations)."""
    query = _visible_applications(actor)
    if condition is not None:
        query = query.where(condition)
    if status:
        query = query.where(LoanApplication.status == status)
    if step or due_before:
        tasks = sa.select(TaskRow.application_id).where(TaskRow.state == "open")
        if step:
            tasks = tasks.where(TaskRow.bpmn_id == step)
        if due_before:
            tasks = tasks.where(TaskRow.due_at < due_before)
        query = query.where(LoanApplication.id.in_(tasks))
    if updated_since:
        query = query.where(LoanApplication.updated_at >= updated_since)
    if after_id:
        query = query.where(LoanApplication.id > after_id)
    rows = list(session.scalars(query.order_by(LoanApplication.id).limit(limit + 1)))
    return Page(rows[:limit], rows[limit - 1].id if len(rows) > limit else None)


def open_tasks_of(session: Session, application_ids: list[int], actor: Actor | None = None) -> dict[int, list[TaskRow]]:
    """The applications' open tasks, of every process run for them; for an institution's staff or system
    only the institution's tasks, for an enterprise only its own (what each side acts on)."""
    tasks: dict[int, list[TaskRow]] = {}
    query = sa.select(TaskRow).where(TaskRow.application_id.in_(application_ids), TaskRow.state == "open")
    if actor is not None and actor.role in INSTITUTION_ROLES:
        query = query.where(TaskRow.role == "institution")
    elif actor is not None and actor.role == ENTERPRISE:
        query = query.where(TaskRow.role == "enterprise")
    if application_ids:
        for task in session.scalars(query.order_by(TaskRow.id)):
            if task.application_id is not None:  # always: the query matched it by application
                tasks.setdefault(task.application_id, []).append(task)
    return tasks


def filter_breaches(query: sa.Select, *, institution_id: int | None = None, kind: str | None = None,
                    open_only: bool = False) -> sa.Select:
    """The supervisors' breach filters: one institution, one kind, unresolved only."""
    if institution_id:
        query = query.where(SlaBreach.institution_id == institution_id)
    if kind:
        query = query.where(SlaBreach.kind == kind)
    if open_only:
        query = query.where(SlaBreach.resolved_at.is_(None))
    return query


def list_breaches(session: Session, *, institution_id: int | None = None, kind: str | None = None,
                  open_only: bool = False, after_id: int | None = None, limit: int = 50) -> Page:
    query = filter_breaches(sa.select(SlaBreach, LoanApplication.reference).join(
        LoanApplication, LoanApplication.id == SlaBreach.application_id),
        institution_id=institution_id, kind=kind, open_only=open_only)
    if after_id:
        query = query.where(SlaBreach.id > after_id)
    rows = list(session.execute(query.order_by(SlaBreach.id).limit(limit + 1)).all())
    return Page(rows[:limit], rows[limit - 1][0].id if len(rows) > limit else None)


@dataclass(frozen=True)
class Scorecard:
    institution_id: int
    applications: int
    accepted_on_time: int
    accepted: int
    decided_on_time: int
    decided: int
    approved: int
    open_breaches: int

    @property
    def on_time_acceptance_rate(self) -> float | None:
        return self.accepted_on_time / self.accepted if self.accepted else None

    @property
    def on_time_decision_rate(self) -> float | None:
        return self.decided_on_time / self.decided if self.decided else None

    @property
    def approval_rate(self) -> float | None:
        return self.approved / self.decided if self.decided else None


def scorecard(session: Session, institution_id: int) -> Scorecard:
    """An institution's record, from the applications and the breach ledger."""
    if session.get(Institution, institution_id) is None:
        raise NotFound(f"Institution {institution_id} doesn't exist.")
    app = LoanApplication
    counts = session.execute(sa.select(
        sa.func.count(),
        sa.func.count(app.accepted_at),
        sa.func.count(app.decided_at),
        sa.func.count(sa.case((app.approved_amount.is_not(None), 1))),
    ).where(app.institution_id == institution_id)).one()
    # Steps taken late: breaches the institution resolved by finally acting.
    breaches = dict(session.execute(
        sa.select(SlaBreach.kind, sa.func.count()).where(
            SlaBreach.institution_id == institution_id, SlaBreach.resolution == "acted")
        .group_by(SlaBreach.kind)).all())
    open_breaches = session.scalar(sa.select(sa.func.count()).select_from(SlaBreach).where(
        SlaBreach.institution_id == institution_id, SlaBreach.resolved_at.is_(None))) or 0
    total, accepted, decided, approved = counts
    late_accepts = breaches.get("accept", 0)
    late_decisions = breaches.get("decision", 0)
    return Scorecard(institution_id, total, accepted - late_accepts, accepted,
                     decided - late_decisions, decided, approved, open_breaches)


@dataclass(frozen=True)
class InboxRow:
    task: TaskRow
    application: LoanApplication
    enterprise_name: str


def timeline(session: Session, application_id: int) -> list[AuditEvent]:
    """Every recorded event of an application, oldest first."""
    return list(session.scalars(
        sa.select(AuditEvent).where(AuditEvent.application_id == application_id).order_by(AuditEvent.id)))


# What an institution's read of an application leaves on record (privacy.record_institution_views):
# every page load and API read. Reveals of the contact data ("personal_data_revealed") are
# disclosures and stay rows of their own.
INSTITUTION_READS = frozenset({"viewed"})


@dataclass(frozen=True)
class EventEntry:
    """A timeline line that is one recorded event (a step, a note, a reason, a reveal…)."""

    event: AuditEvent
    kind: Literal["event"] = "event"

    @property
    def at(self) -> datetime:
        return self.event.at


@dataclass
class ReadsEntry:
    """One timeline line for all of one institution's reads of the application on one Beijing day."""

    day: date
    institution_id: int | None
    institution: str
    first: datetime
    last: datetime
    count: int = 1
    kind: Literal["reads"] = field(default="reads", init=False)
    channels: set[str] = field(default_factory=set)  # how they read: page, api

    @property
    def at(self) -> datetime:
        return self.first


TimelineEntry = EventEntry | ReadsEntry


def group_reads(events: Iterable[AuditEvent], institution_of: Mapping[str, int | None],
                names: Mapping[int, str], default_institution: int | None = None) -> list[TimelineEntry]:
    """The events as timeline lines, oldest first: institutions' reads folded into one line per
    institution per Beijing day (placed at the day's first read), every other event a line of its own.

    `institution_of` maps a reader (the audit actor) to its institution; a reader it does not know
    counts for `default_institution` (the case's, the only one whose staff may read it).
    """
    entries: list[TimelineEntry] = []
    days: dict[tuple[int | None, date], ReadsEntry] = {}
    for event in events:
        if event.action not in INSTITUTION_READS:
            entries.append(EventEntry(event))
            continue
        institution = institution_of.get(event.actor, default_institution)
        day = event.at.astimezone(SHANGHAI).date()
        line = days.get((institution, day))
        if line is None:
            line = days[(institution, day)] = ReadsEntry(
                day, institution, names.get(institution, "") if institution is not None else "", event.at, event.at)
            entries.append(line)
        else:
            line.count += 1
            line.first, line.last = min(line.first, event.at), max(line.last, event.at)
        line.channels.add((event.detail or {}).get("via") or "page")
    return entries


def readers_institutions(session: Session, readers: set[str]) -> dict[str, int | None]:
    """The institution of each reader: a user's own, or the institution whose key the system used."""
    found: dict[str, int | None] = {username: institution for username, institution in session.execute(
        sa.select(UserAccount.username, UserAccount.institution_id).where(UserAccount.username.in_(readers)))}
    # A bank's own system reads as "system:<institution code>:<key prefix>" (access.authenticate).
    codes = {reader: reader.removeprefix("system:").rsplit(":", 1)[0] for reader in readers - found.keys()
             if reader.startswith("system:") and reader.count(":") >= 2}
    if codes:
        ids = {code: institution for code, institution in session.execute(
            sa.select(Institution.code, Institution.id).where(Institution.code.in_(set(codes.values()))))}
        found.update({reader: ids[code] for reader, code in codes.items() if code in ids})
    return {reader: institution for reader, institution in found.items() if institution is not None}


def timeline_entries(session: Session, application: LoanApplication, *, reads: bool = True) -> list[TimelineEntry]:
    """An application's timeline for display, oldest first: institutions' reads one line per institution
    per Beijing day (left out when not `reads`), steps, notes, reasons, reveals… one line each."""
    events = [event for event in timeline(session, application.id)
              if reads or event.action not in INSTITUTION_READS]
    readers = {event.actor for event in events if event.action in INSTITUTION_READS}
    institution_of = readers_institutions(session, readers) if readers else {}
    wanted = set(institution_of.values()) | {application.institution_id}
    names = {institution: name for institution, name in session.execute(
        sa.select(Institution.id, Institution.name).where(Institution.id.in_(wanted)))} if readers else {}
    return group_reads(events, institution_of, names, default_institution=application.institution_id)


def offer(session: Session) -> list[tuple[Institution, list[LoanProduct]]]:
    """Institutions taking applications and their active products, for the apply form."""
    institutions = session.scalars(sa.select(Institution).where(
        Institution.status.in_(("active", "warned"))).order_by(Institution.id)).all()
    products = session.scalars(sa.select(LoanProduct).where(LoanProduct.active.is_(True))
                               .order_by(LoanProduct.id)).all()
    return [(i, [p for p in products if p.institution_id == i.id]) for i in institutions]
