"""The enterprise's own view of its data (免费查询, seeds 002 and 004: the subject may look at everything
the platform holds about it, free of charge): its applications, its authorizations and their status,
what each bank reported about it, and the access log — which institution read or revealed what and
when (the institution, never the person), reads one line per institution and Beijing day as the case
timeline groups them (engine.loans.queries.group_reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import queries
from engine.loans.actors import ENTERPRISE, Actor
from engine.models import AuditEvent, CreditAuthorization, Institution, LoanApplication, SlaBreach
from engine.models.loans import DisclosureRecord
from engine.platform import authorizations
from engine.platform.privacy import mask_account
from engine.workflow.errors import NotFound
from engine.workflow.working_days import SHANGHAI

# What the access log shows: institutions' reads (grouped), reveals, refused attempts, and the push of
# the application with its authorization to the institution (银行直连) at submission.
ACCESS_ACTIONS = ("viewed", "personal_data_revealed", "disclosure_refused", "submitted")


@dataclass(frozen=True)
class ApplicationLine:
    reference: str
    institution: str
    status: str
    amount: Decimal
    submitted_at: datetime


@dataclass(frozen=True)
class AuthorizationLine:
    reference: str
    institution: str
    scope: str
    purpose: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: str  # active | expired | revoked | closed
    risk_notice_version: str | None

    @property
    def revocable(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class ReportLine:
    """One thing a bank reported: accepted, approved, rejected, disbursed, settled, or a missed deadline."""

    reference: str
    institution: str
    item: str
    at: datetime | None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessLine:
    """One line of the access log: `kind` is reads (grouped per institution and day), revealed, refused, sent."""

    reference: str
    institution: str
    kind: str
    at: datetime
    last: datetime
    count: int = 1
    purposes: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    wanted: str | None = None  # a refused attempt: read | reveal
    reason: str | None = None  # … and why it was refused (revoked, expired, settled…)


@dataclass(frozen=True)
class OwnData:
    applications: list[ApplicationLine]
    authorizations: list[AuthorizationLine]
    reports: list[ReportLine]
    access_log: list[AccessLine]


def own_data(session: Session, actor: Actor, now: datetime) -> OwnData:
    """Everything the platform holds about the actor's enterprise that this page shows; only its own."""
    if actor.role != ENTERPRISE or actor.enterprise_id is None:
        raise NotFound("No such enterprise.")
    applications = list(session.scalars(sa.select(LoanApplication).where(
        LoanApplication.enterprise_id == actor.enterprise_id).order_by(LoanApplication.id.desc())))
    names = {key: name for key, name in session.execute(sa.select(Institution.id, Institution.name).where(
        Institution.id.in_({a.institution_id for a in applications})))} if applications else {}
    by_id = {application.id: application for application in applications}
    granted = list(session.scalars(sa.select(CreditAuthorization).where(
        CreditAuthorization.application_id.in_(by_id)))) if by_id else []
    return OwnData(
        [ApplicationLine(a.reference, names.get(a.institution_id, ""), a.status, a.amount, a.submitted_at)
         for a in applications],
        [_authorization_line(row, by_id[row.application_id], names, now)
         for row in sorted(granted, key=lambda row: row.id, reverse=True)],
        _reports(session, applications, names),
        _access_log(session, by_id, names))


def _authorization_line(row: CreditAuthorization, application: LoanApplication, names: dict[int, str],
                        now: datetime) -> AuthorizationLine:
    return AuthorizationLine(application.reference, names.get(row.institution_id, ""), row.scope, row.purpose,
                             row.granted_at, row.expires_at, row.revoked_at,
                             authorizations.status_of(row, application, now), row.risk_notice_version)


def _reports(session: Session, applications: list[LoanApplication], names: dict[int, str]) -> list[ReportLine]:
    lines: list[ReportLine] = []
    breaches: dict[int, list[SlaBreach]] = {}
    if applications:
        for breach in session.scalars(sa.select(SlaBreach).where(
                SlaBreach.application_id.in_([a.id for a in applications])).order_by(SlaBreach.id)):
            breaches.setdefault(breach.application_id, []).append(breach)
    for a in applications:
        def line(item: str, at: datetime | None, **values: Any) -> None:
            lines.append(ReportLine(a.reference, names.get(a.institution_id, ""), item, at, values))  # noqa: B023

        if a.accepted_at:
            line("accepted", a.accepted_at, note=a.accept_note)
        if a.approved_amount is not None:
            line("approved", a.decided_at, amount=a.approved_amount, annual_rate=a.annual_rate,
                 term_months=a.approved_term_months, conditions=a.approval_conditions)
        if a.rejection_reason:
            line("rejected", a.decided_at, reason=a.rejection_reason)
        if a.disbursed_amount is not None:
            line("disbursed", a.disbursed_at, amount=a.disbursed_amount, disbursed_on=a.disbursed_on,
                 contract_number=a.contract_number, account=mask_account(a.disbursement_account))
        if a.settled_on or a.settled_at:
            line("settled", a.settled_at, settled_on=a.settled_on)
        for breach in breaches.get(a.id, []):
            line("breach", breach.breached_at, kind=breach.kind, due_at=breach.due_at,
                 resolved_at=breach.resolved_at, late_working_days=breach.late_working_days,
                 resolution=breach.resolution)
    return lines


def _access_log(session: Session, by_id: dict[int, LoanApplication], names: dict[int, str]) -> list[AccessLine]:
    if not by_id:
        return []
    events = list(session.scalars(sa.select(AuditEvent).where(
        AuditEvent.application_id.in_(by_id), AuditEvent.action.in_(ACCESS_ACTIONS)).order_by(AuditEvent.id)))
    readers = {event.actor for event in events if event.action != "submitted"}
    institution_of = queries.readers_institutions(session, readers) if readers else {}
    missing = set(institution_of.values()) - names.keys()
    if missing:
        names = {**names, **{key: name for key, name in session.execute(
            sa.select(Institution.id, Institution.name).where(Institution.id.in_(missing)))}}
    # The purposes on the disclosure ledger: reads by (case, institution, Beijing day), reveals by their instant.
    read_purposes: dict[tuple[int, int, date], set[str]] = {}
    reveal_purposes: dict[tuple[int, datetime], str] = {}
    for record in session.scalars(sa.select(DisclosureRecord).where(
            DisclosureRecord.application_id.in_(by_id), DisclosureRecord.action.in_(("read", "reveal")))):
        if record.action == "read":
            key = (record.application_id, record.institution_id, record.at.astimezone(SHANGHAI).date())
            read_purposes.setdefault(key, set()).add(record.purpose)
        else:
            reveal_purposes[(record.application_id, record.at)] = record.purpose
    log: list[AccessLine] = []
    for application_id, application in by_id.items():
        own = [event for event in events if event.application_id == application_id]
        case_institution = names.get(application.institution_id, "")
        for entry in queries.group_reads(own, institution_of, names, default_institution=application.institution_id):
            if isinstance(entry, queries.ReadsEntry):
                purposes = read_purposes.get((application_id, entry.institution_id or 0, entry.day), set())
                log.append(AccessLine(application.reference, entry.institution, "reads", entry.first, entry.last,
                                      entry.count, tuple(sorted(purposes)), tuple(sorted(entry.channels))))
                continue
            event = entry.event
            detail = event.detail or {}
            institution = names.get(institution_of.get(event.actor) or application.institution_id, case_institution)
            if event.action == "submitted":
                log.append(AccessLine(application.reference, case_institution, "sent", event.at, event.at,
                                      purposes=(authorizations.HANDLING,), channels=("push",)))
            elif event.action == "personal_data_revealed":
                log.append(AccessLine(application.reference, institution, "revealed", event.at, event.at,
                                      purposes=tuple(filter(None, [reveal_purposes.get((application_id, event.at))])),
                                      channels=(detail.get("via") or "page",), fields=tuple(detail.get("fields", ()))))
            else:
                log.append(AccessLine(application.reference, institution, "refused", event.at, event.at,
                                      channels=(detail.get("via") or "page",), wanted=detail.get("wanted"),
                                      reason=detail.get("reason")))
    return sorted(log, key=lambda line: line.at, reverse=True)

