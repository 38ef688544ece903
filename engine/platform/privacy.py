"""Personal data shown masked (脱敏) unless the viewer needs it; every disclosure is on record.

个人信息保护法 treats ID numbers and financial accounts as sensitive personal information, and
the platform rules ask that every disclosure be traceable (来源可溯、去向可查). Pages and the API
show the masked forms below. An officer of the institution handling an application may reveal
the enterprise's contact data in full; each reveal is an audit event naming the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine.loans.actors import INSTITUTION_ROLES, Actor
from engine.models import Enterprise, LoanApplication
from engine.workflow.errors import Forbidden, NotFound
from engine.workflow.journal import record_audit

MASK = "*"


def _keep(value: str | None, head: int, tail: int) -> str | None:
    if not value:
        return value
    if len(value) <= head + tail:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail:]


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the operator prefix and the last four digits."""
    return _keep(phone, 3, 4)


def mask_id_number(number: str | None) -> str | None:
    """430***********1234 for an 18-character resident ID: region prefix and last four only."""
    return _keep(number, 3, 4)


def mask_account(account: str | None) -> str | None:
    """Only the last four characters of an account number."""
    return _keep(account, 0, 4)


@dataclass(frozen=True)
class EnterpriseContact:
    """What a page shows about the applicant; `revealed` says whether the sensitive fields are in full."""

    name: str
    credit_code: str
    legal_representative: str | None
    representative_id_number: str | None
    contact_phone: str | None
    revealed: bool


REVEALED_FIELDS = ("representative_id_number", "contact_phone")


def _enterprise_of(session: Session, application: LoanApplication) -> Enterprise:
    enterprise = session.get(Enterprise, application.enterprise_id)
    if enterprise is None:
        raise NotFound(f"Enterprise {application.enterprise_id} doesn't exist.")
    return enterprise


def _contact(enterprise: Enterprise, revealed: bool) -> EnterpriseContact:
    id_number, phone = enterprise.representative_id_number, enterprise.contact_phone
    if not revealed:
        id_number, phone = mask_id_number(id_number), mask_phone(phone)
    return EnterpriseContact(enterprise.name, enterprise.credit_code, enterprise.legal_representative,
                             id_number, phone, revealed)


def enterprise_contact(session: Session, application: LoanApplication) -> EnterpriseContact:
    """The applicant's data, masked."""
    return _contact(_enterprise_of(session, application), revealed=False)


def is_disclosure(actor: Actor) -> bool:
    """Whether the actor's reads disclose an enterprise's data to an institution."""
    return actor.role in INSTITUTION_ROLES


def record_institution_views(session: Session, now: datetime, actor: Actor,
                             applications: list[LoanApplication], via: str) -> None:
    """Put on record that an institution's user or system saw these applications (来源可溯、去向可查).

    Views by the enterprise itself or by supervisors are not disclosures to an institution.
    """
    if not is_disclosure(actor) or not applications:
        return
    for application in applications:
        record_audit(session, now, actor.id, "viewed", application_id=application.id,
                     status_before=application.status, status_after=application.status,
                     detail={"via": via} if via != "page" else None)


def reveal_enterprise_contact(session: Session, now: datetime, actor: Actor,
                              application: LoanApplication) -> EnterpriseContact:
    """The applicant's data in full, for the institution handling the application; audited.

    `application` must already be one the actor may see (queries.application_for); only staff of
    its institution may reveal.
    """
    if actor.role not in INSTITUTION_ROLES or actor.institution_id != application.institution_id:
        raise Forbidden("Only the institution handling the application can see the applicant's contact data")
    enterprise = _enterprise_of(session, application)
    record_audit(session, now, actor.id, "personal_data_revealed", application_id=application.id,
                 status_before=application.status, status_after=application.status,
                 detail={"fields": list(REVEALED_FIELDS)})
    return _contact(enterprise, revealed=True)
