"""An enterprise keeps its own contact data: legal representative, their ID number, a contact phone.

The data are personal (个人信息保护法): institutions see them masked (engine/platform/privacy.py). Changes are
audited by field name only; the values never go into the audit trail.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate
from sqlalchemy.orm import Session

from engine.loans.actors import ENTERPRISE, Actor
from engine.loans.commands import load, no_nul
from engine.models import Enterprise
from engine.workflow.errors import Forbidden, NotFound
from engine.workflow.journal import record_audit

FIELDS = ("legal_representative", "representative_id_number", "contact_phone")
# A mainland mobile number, or a landline with its area code (0731-88881234).
PHONE = re.compile(r"\A(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})\Z")
ID_NUMBER = re.compile(r"\A\d{17}[\dX]\Z")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_is_valid(number: str) -> bool:
    """An 18-character resident ID number whose last character is its GB 11643 check character."""
    if not ID_NUMBER.fullmatch(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def _id_number(value: str) -> None:
    if not id_number_is_valid(value):
        raise ValidationError("Not a valid resident ID number (18 characters, the last one a check digit or X).")


class ContactSchema(Schema):
    legal_representative = fields.String(
        required=True, validate=[validate.Length(min=1, max=100), no_nul])
    representative_id_number = fields.String(required=True, validate=_id_number)
    contact_phone = fields.String(required=True, validate=validate.Regexp(
        PHONE, error="A mobile number (11 digits) or a landline with its area code, e.g. 0731-88881234."))

    @pre_load
    def _tidy(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        tidy = {name: value.strip() for name, value in data.items() if isinstance(value, str)}
        if "representative_id_number" in tidy:
            tidy["representative_id_number"] = tidy["representative_id_number"].upper()
        if "contact_phone" in tidy:
            tidy["contact_phone"] = tidy["contact_phone"].replace(" ", "")
        return {**data, **tidy}


def contact_of(session: Session, actor: Actor) -> Enterprise:
    """The actor's own enterprise, with its contact data in full (it is theirs)."""
    if actor.role != ENTERPRISE or actor.enterprise_id is None:
        raise Forbidden("Only an enterprise user keeps the enterprise's contact data")
    enterprise = session.get(Enterprise, actor.enterprise_id)
    if enterprise is None:
        raise NotFound(f"Enterprise {actor.enterprise_id} doesn't exist.")
    return enterprise


def update_contact(session: Session, now: datetime, actor: Actor, data: dict[str, Any]) -> Enterprise:
    """Validate and store the enterprise's contact data; audit which fields changed."""
    command = load(ContactSchema, data)
    enterprise = contact_of(session, actor)
    changed = [name for name in FIELDS if getattr(enterprise, name) != command[name]]
    for name in changed:
        setattr(enterprise, name, command[name])
    if changed:
        record_audit(session, now, actor.id, "contact_updated", detail={"enterprise_id": enterprise.id,
                                                                         "fields": changed})
    return enterprise
