"""Personal data shown masked (脱敏) unless the viewer needs it; every disclosure is on record.

个人信息保护法 treats ID numbers and financial accounts as sensitive personal information, and
the platform rules ask that every disclosure be traceable (来源可溯、去向可查). Pages and the API
show the masked forms below. An officer of the institution handling an application may reveal
the enterprise's contact data in full while the enterprise's authorization is in force; each read
and reveal is an audit event naming its purpose (and the fields), each refusal one as well.
What an authorization allows when is engine/platform/authorizations.py's to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import INSTITUTION_ROLES, Actor
from engine.models import Enterprise, LoanApplication, table_of
from engine.models.loans import DisclosureRecord
from engine.platform import authorizations
from engine.platform.authorizations import InstitutionAccess
from engine.workflow.errors import Forbidden, NotFound
from engine.workflow.journal import deferred_journal, record_audit

MASK = "*"
_INSERT_DISCLOSURE = sa.insert(table_of(DisclosureRecord))


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


def record_disclosure(session: Session, now: datetime, actor: Actor, application: LoanApplication, action: str,
                      via: str, purpose: str, authorization_id: int | None) -> None:
    """The disclosure ledger's row: what went to which institution, for what, under which authorization."""
    session.connection().execute(_INSERT_DISCLOSURE, _disclosure_row(now, actor, application, action, via, purpose,
                                                                      authorization_id))


def _disclosure_row(now: datetime, actor: Actor, application: LoanApplication, action: str, via: str, purpose: str,
                    authorization_id: int | None) -> dict[str, Any]:
    return {"at": now, "application_id": application.id, "institution_id": application.institution_id,
            "authorization_id": authorization_id, "actor": actor.id, "action": action, "via": via, "purpose": purpose}


def record_institution_views(session: Session, now: datetime, actor: Actor, applications: list[LoanApplication],
                             via: str, access: Mapping[int, InstitutionAccess] | None = None) -> None:
    """Put on record that an institution's user or system saw these applications, and for what purpose
    (来源可溯、去向可查): handling the application, or the case record kept after its closure.

    Views by the enterprise itself or by supervisors are not disclosures to an institution.
    """
    if not is_disclosure(actor) or not applications:
        return
    if access is None:
        access = authorizations.accesses(session, applications, now, timedelta(0))
    # A bank's system polls its list: the page's rows go out in one statement per table, not two per row.
    disclosures = []
    with deferred_journal(session):
        for application in applications:
            case = access[application.id]
            record_audit(session, now, actor.id, "viewed", application_id=application.id,
                         status_before=application.status, status_after=application.status,
                         detail={"via": via} if via != "page" else None)
            disclosures.append(_disclosure_row(now, actor, application, "read", via, case.purpose,
                                               case.authorization.id if case.authorization is not None else None))
    session.connection().execute(_INSERT_DISCLOSURE, disclosures)


def reveal_enterprise_contact(session: Session, now: datetime, actor: Actor, application: LoanApplication,
                              via: str = "page") -> EnterpriseContact:
    """The applicant's data in full, for the institution handling the application while the enterprise's
    authorization is in force; audited with its purpose. Otherwise RevealRefused (the caller records it).

    `application` must already be one the actor may see (queries.application_for); only staff of
    its institution may reveal.
    """
    if actor.role not in INSTITUTION_ROLES or actor.institution_id != application.institution_id:
        raise Forbidden("Only the institution handling the application can see the applicant's contact data")
    access = authorizations.access_for(session, application, now)
    if not access.may_reveal or access.authorization is None:
        raise authorizations.RevealRefused(application.reference, access.reason)
    enterprise = _enterprise_of(session, application)
    record_audit(session, now, actor.id, "personal_data_revealed", application_id=application.id,
                 status_before=application.status, status_after=application.status,
                 detail={"fields": list(REVEALED_FIELDS), **({"via": via} if via != "page" else {})})
    record_disclosure(session, now, actor, application, "reveal", via, access.purpose, access.authorization.id)
    return _contact(enterprise, revealed=True)


def _refuse(session: Session, now: datetime, actor: Actor, application: LoanApplication, access: InstitutionAccess,
            wanted: str, via: str) -> None:
    authorizations.record_refusal(session, now, actor, application, access, wanted, via)
    record_disclosure(session, now, actor, application, f"refused_{wanted}", via, access.reason,
                      access.authorization.id if access.authorization is not None else None)


@dataclass(frozen=True)
class CaseDisclosure:
    """What an institution was shown of a case: `refusal` says what was refused (already on record)."""

    access: InstitutionAccess
    contact: EnterpriseContact | None
    refusal: Forbidden | None


def open_case(session: Session, now: datetime, actor: Actor, application: LoanApplication, *, via: str,
              retention: timedelta, reveal: bool = False) -> CaseDisclosure:
    """An institution's read of a case (and reveal, when asked) as the authorization allows; the read, the
    reveal or the refusal put on record. Anyone else (the enterprise, supervisors) just reads, masked."""
    access = authorizations.access_for(session, application, now, retention)
    if not is_disclosure(actor):
        return CaseDisclosure(access, enterprise_contact(session, application), None)
    if not access.may_read:
        _refuse(session, now, actor, application, access, "read", via)
        return CaseDisclosure(access, None, authorizations.refusal_for_read(application, access))
    record_institution_views(session, now, actor, [application], via, {application.id: access})
    if not reveal:
        return CaseDisclosure(access, enterprise_contact(session, application), None)
    if not access.may_reveal:
        _refuse(session, now, actor, application, access, "reveal", via)
        return CaseDisclosure(access, enterprise_contact(session, application),
                              authorizations.RevealRefused(application.reference, access.reason))
    return CaseDisclosure(access, reveal_enterprise_contact(session, now, actor, application, via), None)
