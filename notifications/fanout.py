"""Fan an outbox message out to deliveries: one row per recipient and channel, resolved now.

Who is told what: officers of the handling institution when a task reaches them (submitted →
Accept, accepted → Decide, approved → Disburse, disbursed → Settle) and a working day before a
deadline; the institution's admins and every supervisor when a deadline is missed; the
enterprise's users at every status change of its application; the institution's system (its
webhook) of everything about its applications.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.models import (
    CreditAuthorization,
    Delivery,
    Enterprise,
    LoanApplication,
    LoanProduct,
    OutboxMessage,
    UserAccount,
    WebhookEndpoint,
    table_of,
)
from engine.platform.registration import EMAIL_CODE_TOPIC
from engine.workflow.database import insert_ignoring_conflicts, is_postgresql
from notifications import texts
from notifications.settings import DeliverySettings

TASK_REACHES_OFFICERS = {"application.submitted", "application.accepted", "application.approved",
                         "application.disbursed", "application.material_supplied", "sla.reminder"}
IN_APP, EMAIL, WEBHOOK = "in_app", "email", "webhook"
# Objections and financing problems (engine/loans/objections.py, financing_problems.py): the institution's
# staff when one reaches it, the supervisors when one is late or unresolved, the enterprise when answered.
REACHES_INSTITUTION = {"objection.filed", "objection.supervised", "financing_problem.filed"}
REACHES_SUPERVISORS = {"objection.escalated", "financing_problem.escalated"}
REACHES_ENTERPRISE = {"objection.answered", "financing_problem.answered", "financing_problem.closed"}
# A registration's e-mail code (engine.platform.registration): recipient kind `registration`, its id.
REGISTRATION_CODE, REGISTRANT = EMAIL_CODE_TOPIC, "registration"
SECRET_TOPICS = {REGISTRATION_CODE}  # parameters scrubbed once fanned out / sent


@dataclass(frozen=True)
class Recipient:
    kind: str  # user | institution
    id: int
    channel: str
    address: str | None
    params: dict[str, Any]


def delivery_key(message_key: str, recipient_kind: str, recipient_id: int, channel: str) -> str:
    """The delivery's idempotency key: the same message, recipient and channel always give the same key."""
    return hashlib.sha256(f"{message_key}:{recipient_kind}:{recipient_id}:{channel}".encode()).hexdigest()


def _users(session: Session, *conditions: Any) -> list[UserAccount]:
    return list(session.scalars(sa.select(UserAccount).where(UserAccount.active.is_(True), *conditions)
                                .order_by(UserAccount.id)))


def _people(session: Session, message: OutboxMessage,
            application: LoanApplication | None) -> list[tuple[UserAccount, str]]:
    topic, institution_id = message.topic, message.payload.get("institution_id")
    people: list[tuple[UserAccount, str]] = []
    if topic in TASK_REACHES_OFFICERS:
        people += [(u, texts.OFFICER) for u in _users(session, UserAccount.role == OFFICER,
                                                      UserAccount.institution_id == institution_id)]
    if topic == "authorization.revoked":  # the institution must stop querying and revealing (authorizations.py)
        people += [(u, texts.OFFICER) for u in _users(session, UserAccount.role.in_((OFFICER, INSTITUTION_ADMIN)),
                                                      UserAccount.institution_id == institution_id)]
    if topic == "sla.breached":
        people += [(u, texts.OVERSIGHT) for u in _users(session, sa.or_(
            sa.and_(UserAccount.role == INSTITUTION_ADMIN, UserAccount.institution_id == institution_id),
            UserAccount.role == SUPERVISOR))]
    if topic in REACHES_INSTITUTION and institution_id is not None:
        people += [(u, texts.OFFICER) for u in _users(session, UserAccount.role.in_((OFFICER, INSTITUTION_ADMIN)),
                                                      UserAccount.institution_id == institution_id)]
    if topic in REACHES_SUPERVISORS or (topic == "financing_problem.filed" and institution_id is None):
        people += [(u, texts.SUPERVISION) for u in _users(session, UserAccount.role == SUPERVISOR)]
    if topic in REACHES_ENTERPRISE and message.payload.get("enterprise_id") is not None:
        people += [(u, texts.ENTERPRISE) for u in _users(session, UserAccount.role == ENTERPRISE,
                                                         UserAccount.enterprise_id == message.payload["enterprise_id"])]
    if topic == "report.produced":  # a closed period's report (engine/loans/reports/produced.py)
        people += [(u, texts.SUPERVISION) for u in _users(session, UserAccount.role == SUPERVISOR)]
    if topic.startswith("application.") and application is not None:
        people += [(u, texts.ENTERPRISE) for u in _users(session, UserAccount.role == ENTERPRISE,
                                                         UserAccount.enterprise_id == application.enterprise_id)]
    return people


def _bank_push(session: Session, application: LoanApplication) -> dict[str, Any]:
    """The 银行直连 push of a new application: the application, the applicant, its credit-query authorization."""
    enterprise = session.get(Enterprise, application.enterprise_id)
    product = session.get(LoanProduct, application.product_id)
    authorization = session.scalar(sa.select(CreditAuthorization).where(
        CreditAuthorization.application_id == application.id))
    return {
        "application": {
            "reference": application.reference, "amount": f"{application.amount:.2f}",
            "term_months": application.term_months, "purpose": application.purpose,
            "product": {"code": product.code, "name": product.name} if product else None,
            "submitted_at": application.submitted_at.isoformat(),
        },
        "enterprise": {"name": enterprise.name, "credit_code": enterprise.credit_code} if enterprise else None,
        "authorization": {
            "scope": authorization.scope, "granted_at": authorization.granted_at.isoformat(),
            "expires_at": authorization.expires_at.isoformat(),
        } if authorization else None,
    }


def webhook_body(session: Session, message: OutboxMessage, application: LoanApplication | None) -> dict[str, Any]:
    data = {key: value for key, value in message.payload.items() if key not in ("institution_id", "enterprise_id")}
    if message.topic == "application.submitted" and application is not None:
        data.update(_bank_push(session, application))
    return {"id": message.idempotency_key, "topic": message.topic, "created_at": message.created_at.isoformat(),
            "data": data}


def recipients(session: Session, message: OutboxMessage, settings: DeliverySettings) -> list[Recipient]:
    """Everyone and everything this message goes to, over which channels."""
    payload = message.payload
    if message.topic == REGISTRATION_CODE:  # to the e-mail being verified: its user does not exist yet
        if not settings.smtp.enabled:
            return []
        return [Recipient(REGISTRANT, payload["registration_id"], EMAIL, payload["email"], {
            "audience": texts.REGISTRANT, "code": payload["code"], "minutes": payload["minutes"]})]
    application = session.scalar(sa.select(LoanApplication).where(
        LoanApplication.reference == payload.get("application")))
    result: list[Recipient] = []
    for user, audience in _people(session, message, application):
        params = {"audience": audience, "reference": payload.get("application") or payload.get("problem"),
                  "status": payload.get("status"), "kind": payload.get("kind"), "due_at": payload.get("due_at"),
                  "field": payload.get("field"), "outcome": payload.get("outcome")}
        if message.topic == "report.produced":
            params = {"audience": audience, "report_id": payload.get("report_id"),
                      "period_kind": payload.get("period_kind"), "period": payload.get("period")}
        result.append(Recipient("user", user.id, IN_APP, None, params))
        if settings.smtp.enabled and user.email:
            result.append(Recipient("user", user.id, EMAIL, user.email, params))
    institution_id = payload.get("institution_id")
    if institution_id is not None and session.scalar(sa.select(WebhookEndpoint.id).where(
            WebhookEndpoint.institution_id == institution_id, WebhookEndpoint.active.is_(True))):
        result.append(Recipient("institution", institution_id, WEBHOOK, None,
                                webhook_body(session, message, application)))
    return result


def claim_due_messages(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    query = (sa.select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
             .order_by(OutboxMessage.id).limit(limit))
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def fan_out(session: Session, now: datetime, message: OutboxMessage, settings: DeliverySettings) -> int:
    """Write the message's deliveries (again: rows that exist stay as they are) and mark it dispatched."""
    made = 0
    deliveries = table_of(Delivery)
    insert = insert_ignoring_conflicts(session, deliveries).returning(deliveries.c.id)
    for recipient in recipients(session, message, settings):
        row = session.execute(insert, {
            "outbox_id": message.id, "topic": message.topic, "channel": recipient.channel,
            "recipient_kind": recipient.kind, "recipient_id": recipient.id, "address": recipient.address,
            "idempotency_key": delivery_key(message.idempotency_key, recipient.kind, recipient.id, recipient.channel),
            "params": recipient.params, "status": "pending", "attempts": 0, "next_attempt_at": now,
            "lease_until": None, "created_at": now, "sent_at": None, "last_error": None,
        }).first()
        made += row is not None
    message.status, message.delivered_at, message.attempts = "dispatched", now, message.attempts + 1
    if message.topic in SECRET_TOPICS:  # the code now lives only in the delivery, until it is sent
        message.payload = {key: value for key, value in message.payload.items() if key != "code"}
    return made
