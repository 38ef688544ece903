"""The credit-query authorization (授权) over its life: granted with the risk notice, in force, ended.

征信业管理条例 (arts. 18, 20) and the platform rules (seeds 002, 004): an institution may query an
enterprise's credit information and see its personal data in full only under the enterprise's
authorization, for its purpose (this financing application), while it is valid; the enterprise
is told the risks first (风险提示) and may revoke it. This module says what an authorization allows
an institution at a given instant:

- in force (not revoked, not expired, the application open): the case record and, on request and
  audited, the contact data in full;
- revoked or expired while the application is still open: the case record with contact data masked
  (de-identified data, which seed 003 lets the platform provide without authorization), so that the
  bank can still finish or refuse the application it must report on; no reveal;
- the application closed (settled, rejected, withdrawn): the same masked, read-only record for a
  retention window after the closure (CASE_RECORD_RETENTION_DAYS), then nothing.

Every refusal is put on record, as every disclosure is (privacy.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import statuses
from engine.loans.actors import Actor, ensure_enterprise_owns
from engine.models import CreditAuthorization, LoanApplication
from engine.workflow.database import rows_matched
from engine.workflow.errors import Forbidden, InvalidTransition, NotFound
from engine.workflow.journal import enqueue, record_audit
from engine.workflow.retry import retry_on_conflict
from engine.workflow.runtime import Engine

# The risk notice's version an applicant ticks on the apply page; a new wording gets a new version.
RISK_NOTICE_VERSION = "2026-11"
FINANCING_APPLICATION = "financing_application"  # the only purpose an authorization has today
VALIDITY_DAYS = 90  # how long an authorization given on the apply page lasts
# The retention window's default (config.CASE_RECORD_RETENTION_DAYS says why 180).
DEFAULT_RETENTION_DAYS = 180

# An authorization's status, as the enterprise and the institution see it.
ACTIVE, EXPIRED, REVOKED, CLOSED, MISSING = "active", "expired", "revoked", "closed", "missing"
# What an institution may do with a case.
FULL, RECORD, NONE = "full", "record", "none"
# The purpose each disclosure records: handling the application (while it is open), or the
# read-only case record kept after its closure.
HANDLING, CASE_RECORD = "handling_application", "case_record"
CLOSED_STATUSES = (statuses.REJECTED, statuses.SETTLED, statuses.WITHDRAWN)
REVOKED_TOPIC = "authorization.revoked"


class CaseRecordClosed(Forbidden):
    """The application was closed longer ago than the retention window: the institution may no longer read it."""

    code = "case_record_closed"

    def __init__(self, reference: str, reason: str, closed_at: datetime, readable_until: datetime) -> None:
        super().__init__(f"Application {reference} was closed ({reason}) and its record was readable by the "
                         f"institution until {readable_until.isoformat()}", reason=reason,
                         closed_at=closed_at, readable_until=readable_until)
        self.reason, self.closed_at, self.readable_until = reason, closed_at, readable_until


class RevealRefused(Forbidden):
    """The contact data may not be shown in full: the authorization is not in force (`reason` says why)."""

    code = "reveal_refused"

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"The credit-query authorization of application {reference} is not in force ({reason}); "
                         "the applicant's contact data cannot be shown in full", reason=reason)
        self.reason = reason


class AlreadyRevoked(InvalidTransition):
    code = "authorization_already_revoked"


def closed_at(application: LoanApplication) -> datetime | None:
    """When the application was closed (settled, rejected or withdrawn); None while it is open."""
    if application.status == statuses.SETTLED:
        return application.settled_at or application.updated_at
    if application.status == statuses.REJECTED:
        return application.decided_at or application.updated_at
    if application.status == statuses.WITHDRAWN:
        return application.withdrawn_at or application.updated_at
    return None


def status_of(authorization: CreditAuthorization | None, application: LoanApplication, now: datetime) -> str:
    """active | expired | revoked | closed (the application closed) | missing (none was stored)."""
    if authorization is None:
        return MISSING
    if authorization.revoked_at is not None:
        return REVOKED
    if application.status in CLOSED_STATUSES:
        return CLOSED
    if authorization.expires_at <= now:
        return EXPIRED
    return ACTIVE


@dataclass(frozen=True)
class InstitutionAccess:
    """What the handling institution may do with one case now, and why."""

    level: str  # full | record | none
    status: str  # the authorization's status
    application_status: str
    authorization: CreditAuthorization | None
    closed_at: datetime | None
    readable_until: datetime | None  # the end of the retention window (closed cases only)

    @property
    def may_read(self) -> bool:
        return self.level != NONE

    @property
    def may_reveal(self) -> bool:
        return self.level == FULL

    @property
    def purpose(self) -> str:
        return HANDLING if self.closed_at is None else CASE_RECORD

    @property
    def reason(self) -> str:
        """Why access is limited: revoked | expired | missing, or the closed application's status."""
        return self.application_status if self.status == CLOSED else self.status


def institution_access(application: LoanApplication, authorization: CreditAuthorization | None, now: datetime,
                       retention: timedelta) -> InstitutionAccess:
    """What the institution may do with the case at `now` (see the module's rules)."""
    status = status_of(authorization, application, now)
    closed = closed_at(application)
    until = closed + retention if closed is not None else None
    if status == ACTIVE:
        level = FULL
    elif until is None or now < until:
        level = RECORD
    else:
        level = NONE
    return InstitutionAccess(level, status, application.status, authorization, closed, until)


def authorization_of(session: Session, application_id: int) -> CreditAuthorization | None:
    return session.scalar(sa.select(CreditAuthorization).where(CreditAuthorization.application_id == application_id))


def access_for(session: Session, application: LoanApplication, now: datetime,
               retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS)) -> InstitutionAccess:
    """The institution's access to one case, its authorization read."""
    return institution_access(application, authorization_of(session, application.id), now, retention)


def accesses(session: Session, applications: Iterable[LoanApplication], now: datetime,
             retention: timedelta) -> dict[int, InstitutionAccess]:
    """The institution's access to each of several cases (one query for their authorizations)."""
    cases = {application.id: application for application in applications}
    found = {row.application_id: row for row in session.scalars(
        sa.select(CreditAuthorization).where(CreditAuthorization.application_id.in_(cases)))} if cases else {}
    return {key: institution_access(case, found.get(key), now, retention) for key, case in cases.items()}


def readable_condition(now: datetime, retention: timedelta) -> sa.ColumnElement[bool]:
    """SQL: applications an institution may still read (open, or closed within the retention window)."""
    since = now - retention
    app = LoanApplication
    return sa.or_(app.status.not_in(CLOSED_STATUSES),
                  sa.and_(app.status == statuses.SETTLED, sa.func.coalesce(app.settled_at, app.updated_at) > since),
                  sa.and_(app.status == statuses.REJECTED, sa.func.coalesce(app.decided_at, app.updated_at) > since),
                  sa.and_(app.status == statuses.WITHDRAWN,
                          sa.func.coalesce(app.withdrawn_at, app.updated_at) > since))


def record_refusal(session: Session, now: datetime, actor: Actor, application: LoanApplication,
                   access: InstitutionAccess, wanted: str, via: str) -> None:
    """Put a refused read or reveal on record (来源可溯、去向可查: the attempt as well)."""
    record_audit(session, now, actor.id, "disclosure_refused", application_id=application.id,
                 status_before=application.status, status_after=application.status,
                 detail={"wanted": wanted, "via": via, "reason": access.reason})


def refusal_for_read(application: LoanApplication, access: InstitutionAccess) -> CaseRecordClosed:
    assert access.closed_at is not None and access.readable_until is not None  # only closed cases are unreadable
    return CaseRecordClosed(application.reference, access.reason, access.closed_at, access.readable_until)


@retry_on_conflict
def revoke(engine: Engine, actor: Actor, reference: str) -> CreditAuthorization:
    """The enterprise revokes its authorization of one application: audited, the institution told."""
    with engine.transaction() as session:
        now = engine.clock.now()
        application = session.scalar(sa.select(LoanApplication).where(LoanApplication.reference == reference))
        if application is None:
            raise NotFound("No such application.")
        ensure_enterprise_owns(actor, application)
        authorization = authorization_of(session, application.id)
        if authorization is None:
            raise NotFound("No such authorization.")
        status = status_of(authorization, application, now)
        # One statement decides who revoked first (two tabs, a double click): the other is told.
        changed = rows_matched(session.execute(
            sa.update(CreditAuthorization)
            .where(CreditAuthorization.id == authorization.id, CreditAuthorization.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=actor.id)
            .execution_options(synchronize_session=False)))
        if not changed:
            raise AlreadyRevoked(f"The authorization of application {reference} is already revoked",
                                 status=application.status)
        session.refresh(authorization)
        record_audit(session, now, actor.id, "authorization_revoked", application_id=application.id,
                     status_before=application.status, status_after=application.status,
                     detail={"authorization_status": status, "scope": authorization.scope})
        enqueue(session, now, REVOKED_TOPIC, {
            "application": application.reference, "institution_id": application.institution_id,
            "enterprise_id": application.enterprise_id, "status": application.status,
            "revoked_at": now.isoformat()})
        return authorization
