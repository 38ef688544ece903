"""System admins keep the parties' records: enterprises (created and edited with the registration's
checks), the manual review of an enterprise's real name, and renaming institutions, products and users.

Each function works in the caller's transaction, raises ValidationFailed (problems as codes with
parameters, see engine.platform.registration.form) or NotFound, and appends an audit event naming
the acting admin. A user's username is their identity in the audit trail and on tasks, so a
"rename" changes the display name only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.models import CreditCommitment, Enterprise, IdentityCheck, Institution, LoanProduct, UserAccount
from engine.platform.registration.form import ENTERPRISE_FIELDS, Problems, enterprise_fields, refuse
from engine.platform.registration.providers import MANUAL_REVIEW, PENDING, REFUSED, VERIFIED
from engine.workflow.encryption import lookup_hash
from engine.workflow.errors import NotFound
from engine.workflow.journal import record_audit

MAX_LISTED = 200


@dataclass(frozen=True)
class EnterpriseRecord:
    enterprise: Enterprise
    identity_checks: list[IdentityCheck]
    commitments: list[CreditCommitment]
    users: list[UserAccount]


def list_enterprises(session: Session, text: str | None = None, limit: int = MAX_LISTED,
                     offset: int = 0) -> tuple[list[Enterprise], int]:
    """Enterprises by name, optionally with `text` in the name or credit code, or exactly the legal
    representative's ID number or the contact phone (stored encrypted: found by their keyed hashes); and how
    many there are."""
    query = sa.select(Enterprise)
    if text and text.strip():
        wanted = text.strip()[:100]
        query = query.where(sa.or_(Enterprise.name.contains(wanted, autoescape=True),
                                   Enterprise.credit_code.contains(wanted.upper(), autoescape=True),
                                   Enterprise.representative_id_number_hash == lookup_hash("id_number", wanted),
                                   Enterprise.contact_phone_hash == lookup_hash("phone", wanted)))
    total = int(session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
    found = list(session.scalars(query.order_by(Enterprise.name, Enterprise.id).offset(offset).limit(limit)))
    return found, total


def enterprise_record(session: Session, enterprise_id: int) -> EnterpriseRecord:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"Enterprise {enterprise_id} doesn't exist.")
    checks = list(session.scalars(sa.select(IdentityCheck).where(IdentityCheck.enterprise_id == enterprise_id)
                                  .order_by(IdentityCheck.id)))
    commitments = list(session.scalars(sa.select(CreditCommitment).where(
        CreditCommitment.enterprise_id == enterprise_id).order_by(CreditCommitment.id)))
    users = list(session.scalars(sa.select(UserAccount).where(UserAccount.enterprise_id == enterprise_id)
                                 .order_by(UserAccount.username)))
    return EnterpriseRecord(enterprise, checks, commitments, users)


def _code_taken(session: Session, code: str, problems: Problems, but: int | None = None) -> None:
    query = sa.select(Enterprise.id).where(Enterprise.credit_code == code)
    if but is not None:
        query = query.where(Enterprise.id != but)
    if session.scalar(query) is not None:
        problems.setdefault("credit_code", []).append(("credit_code_taken", {}))


def create_enterprise(session: Session, now: datetime, actor: str, data: dict[str, Any]) -> Enterprise:
    """Record an enterprise with the registration's checks; its users are created on the users page."""
    problems: Problems = {}
    clean = enterprise_fields(data, problems)
    if not problems:
        _code_taken(session, clean["credit_code"], problems)
    if problems:
        raise refuse(problems)
    enterprise = Enterprise(**clean)
    try:
        with session.begin_nested():  # a concurrent twin loses on the unique code, not with a 500
            session.add(enterprise)
            session.flush()
    except IntegrityError:
        raise refuse({"credit_code": [("credit_code_taken", {})]}) from None
    # As after a self-registration: the real name waits for a review, recorded on its own (review_identity).
    session.add(IdentityCheck(enterprise_id=enterprise.id, method=MANUAL_REVIEW, status=PENDING, requested_at=now))
    record_audit(session, now, actor, "enterprise_created", detail={
        "enterprise_id": enterprise.id, "credit_code": enterprise.credit_code, "name": enterprise.name})
    return enterprise


def update_enterprise(session: Session, now: datetime, actor: str, enterprise_id: int,
                      data: dict[str, Any]) -> list[str]:
    """Change an enterprise's fields; return the names of those changed (audited by name only: the legal
    representative is personal data). An unchanged credit code is not checked again, so that a record
    from before the check can still be edited."""
    enterprise = session.scalars(sa.select(Enterprise).where(Enterprise.id == enterprise_id)
                                 .with_for_update()).first()
    if enterprise is None:
        raise NotFound(f"Enterprise {enterprise_id} doesn't exist.")
    problems: Problems = {}
    clean = enterprise_fields(data, problems)
    if clean["credit_code"] == enterprise.credit_code:
        problems.pop("credit_code", None)
    elif "credit_code" not in problems:
        _code_taken(session, clean["credit_code"], problems, but=enterprise.id)
    if problems:
        raise refuse(problems)
    changed = [name for name in ENTERPRISE_FIELDS if getattr(enterprise, name) != clean[name]]
    for name in changed:
        setattr(enterprise, name, clean[name])
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise refuse({"credit_code": [("credit_code_taken", {})]}) from None
    if changed:
        record_audit(session, now, actor, "enterprise_updated", detail={"enterprise_id": enterprise.id,
                                                                         "fields": changed})
    return changed


def review_identity(session: Session, now: datetime, actor: str, enterprise_id: int, verified: bool) -> None:
    """Record an administrator's manual review of an enterprise's real name (verified or refused)."""
    if session.get(Enterprise, enterprise_id) is None:
        raise NotFound(f"Enterprise {enterprise_id} doesn't exist.")
    status = VERIFIED if verified else REFUSED
    session.add(IdentityCheck(enterprise_id=enterprise_id, method=MANUAL_REVIEW, status=status,
                              requested_at=now, decided_at=now, decided_by=actor))
    record_audit(session, now, actor, "identity_reviewed", status_after=status,
                 detail={"enterprise_id": enterprise_id})


def _new_name(data: dict[str, Any], field: str, high: int) -> str:
    value = data.get(field)
    name = value.strip() if isinstance(value, str) else ""
    problems: Problems = {}
    if not name:
        problems[field] = [("required", {})]
    elif any(ord(character) < 32 or ord(character) == 127 for character in name):
        problems[field] = [("control", {})]
    elif len(name) > high:
        problems[field] = [("length", {"min": 1, "max": high})]
    if problems:
        raise refuse(problems)
    return name


def rename_institution(session: Session, now: datetime, actor: str, institution_id: int,
                       data: dict[str, Any]) -> Institution:
    name = _new_name(data, "name", 200)
    institution = session.scalars(sa.select(Institution).where(Institution.id == institution_id)
                                  .with_for_update()).first()
    if institution is None:
        raise NotFound(f"Institution {institution_id} doesn't exist.")
    if institution.name != name:
        record_audit(session, now, actor, "institution_renamed", detail={
            "institution_id": institution.id, "before": institution.name, "after": name})
        institution.name = name
    return institution


def rename_product(session: Session, now: datetime, actor: str, institution_id: int, product_id: int,
                   data: dict[str, Any]) -> LoanProduct:
    name = _new_name(data, "name", 200)
    product = session.scalars(sa.select(LoanProduct).where(LoanProduct.id == product_id).with_for_update()).first()
    if product is None or product.institution_id != institution_id:
        raise NotFound(f"Product {product_id} doesn't exist.")
    if product.name != name:
        record_audit(session, now, actor, "product_renamed", detail={
            "institution_id": institution_id, "product_id": product.id, "before": product.name, "after": name})
        product.name = name
    return product


def rename_user(session: Session, now: datetime, actor: str, user_id: int, data: dict[str, Any]) -> UserAccount:
    """Change a user's display name (the username stays: it is the identity the audit trail records)."""
    name = _new_name(data, "display_name", 200)
    user = session.scalars(sa.select(UserAccount).where(UserAccount.id == user_id).with_for_update()).first()
    if user is None:
        raise NotFound(f"User {user_id} doesn't exist.")
    if user.display_name != name:
        record_audit(session, now, actor, "user_renamed", detail={
            "user_id": user.id, "username": user.username, "before": user.display_name, "after": name})
        user.display_name = name
    return user

