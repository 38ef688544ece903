"""The registry of named operations a model may call on the case record (docs/MODELING.md).

A user task names one in its `onComplete` property; it runs with the form's validated values
after the task's own checks and before the BPMN task completes, and what it returns joins the
task's data (so that timers and gateways downstream can use it, e.g. `accepted_at`). An
operation may refuse with field errors (ValidationFailed): then nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import statuses
from engine.loans.commands import LOAN_TYPES, TERM_CLASSES
from engine.models import LoanApplication, SlaBreach, TaskRow
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.journal import enqueue, record_audit
from engine.workflow.runtime import InstanceOperation
from engine.workflow.working_days import SHANGHAI

Effect = Callable[[InstanceOperation, TaskRow, dict[str, Any]], Mapping[str, Any] | None]


def application_of_operation(operation: InstanceOperation) -> LoanApplication:
    if operation.context.case_id is None:
        raise NotFound("This case has no application.")
    application = operation.session.get(LoanApplication, operation.context.case_id)
    if application is None:
        raise NotFound("This case has no application.")
    return application


def record_acceptance(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """受理: the application is accepted; the decision clock starts from now."""
    application, now, actor = application_of_operation(operation), operation.now, operation.actor
    before = application.status
    application.status, application.accepted_at, application.accepted_by = statuses.ACCEPTED, now, actor.id
    application.accept_note, application.updated_at = values.get("note"), now
    result = {"accepted_at": now.isoformat(), "accepted_by": actor.id}
    journal(operation, "accepted", before, application, result)
    return result


def record_decision(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """审贷结果: approve with amount, annual rate and term, or reject with a reason."""
    application, now, actor = application_of_operation(operation), operation.now, operation.actor
    before = application.status
    if values["decision"] == "supplement":
        return request_material(operation, application, values)
    if values["decision"] == "approve":
        amount, term = Decimal(values["amount"]), int(values["term_months"])
        conditions = (values.get("conditions") or "").strip() or None
        _check_within_request(application, amount, term, conditions)
        application.status, application.approved_amount = statuses.APPROVED, amount
        application.annual_rate, application.approved_term_months = Decimal(values["annual_rate"]), term
        application.approval_conditions = conditions
        application.term_class = term_class_of(term)
        record_loan_feedback(application, values)
        action, detail = "approved", {"decision": "approve", "approved_amount": str(amount)}
    else:
        application.status, application.rejection_reason = statuses.REJECTED, values["reason"].strip()
        action, detail = "rejected", {"decision": "reject"}
    application.decided_at, application.decided_by, application.updated_at = now, actor.id, now
    application.decision_working_days = operation.calendar.working_days_between(application.submitted_at, now)
    journal(operation, action, before, application, detail)
    return {**detail, "decided_at": now.isoformat()}


# What the institution reports about the loan, for the plan's counts (首贷, 信用贷, 中长期); optional.
FIRST_LOAN = {"yes": True, "no": False}  # the forms' choice


def term_class_of(term_months: int | None) -> str | None:
    """中长期 is a term over one year; a year or less is short."""
    if term_months is None:
        return None
    return "medium_long" if term_months > 12 else "short"


def record_loan_feedback(application: LoanApplication, values: dict[str, Any]) -> None:
    """Loan type, first loan and term class as reported (left as they were where not reported)."""
    if values.get("loan_type") in LOAN_TYPES:
        application.loan_type = values["loan_type"]
    if values.get("first_loan") in FIRST_LOAN:
        application.first_loan = FIRST_LOAN[values["first_loan"]]
    if values.get("term_class") in TERM_CLASSES:
        application.term_class = values["term_class"]


def request_material(operation: InstanceOperation, application: LoanApplication,
                     values: dict[str, Any]) -> dict[str, Any]:
    """补充材料: the institution asks the enterprise for material before deciding (status unchanged)."""
    requested = values["material_requested"].strip()
    detail = {"decision": "supplement", "material_requested": requested}
    journal(operation, "material_requested", application.status, application, detail)
    # No decision deadline runs while the enterprise supplies material; the next Decide computes it again.
    application.decision_due, application.decision_due_provisional = None, False
    application.updated_at = operation.now
    return {**detail, "material_requested_at": operation.now.isoformat()}


def record_material_supplied(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """The enterprise answers a request for material; the decision goes back to the institution."""
    application = application_of_operation(operation)
    detail = {"material": values["material"].strip()}
    journal(operation, "material_supplied", application.status, application, detail)
    application.updated_at = operation.now
    return {"material_supplied_at": operation.now.isoformat(), "material_supplied": True}


def _check_within_request(application: LoanApplication, amount: Decimal, term: int, conditions: str | None) -> None:
    """More than the enterprise asked for (amount or term) needs a stated reason in the conditions."""
    errors: dict[str, list[str]] = {}
    problems: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    if amount > application.amount and conditions is None:
        errors["amount"] = ["More than the amount requested needs a reason in the conditions."]
        problems["amount"] = [("above_request_without_reason", {"requested": str(application.amount)})]
    if term > application.term_months and conditions is None:
        errors["term_months"] = ["A longer term than requested needs a reason in the conditions."]
        problems["term_months"] = [("above_request_without_reason", {"requested": str(application.term_months)})]
    if errors:
        raise ValidationFailed(errors, problems=problems)


def record_disbursement(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """放款: contract number, amount (not above the approval), date, account."""
    application, now = application_of_operation(operation), operation.now
    amount, disbursed_on = Decimal(values["amount"]), date.fromisoformat(values["disbursed_on"])
    if application.approved_amount is not None and amount > application.approved_amount:
        approved = str(application.approved_amount)
        raise ValidationFailed({"amount": ["Cannot exceed the approved amount."]},
                               problems={"amount": [("above_approved", {"approved": approved})]})
    check_business_date(disbursed_on, "disbursed_on", application.decided_at, now)
    before = application.status
    application.status, application.contract_number = statuses.DISBURSED, values["contract_number"]
    application.disbursed_amount, application.disbursed_on = amount, disbursed_on
    application.disbursement_account, application.disbursed_at = values.get("account"), now
    record_loan_feedback(application, values)
    if application.term_class is None:
        application.term_class = term_class_of(application.approved_term_months)
    application.updated_at = now
    detail = {"disbursed_amount": str(amount)}
    journal(operation, "disbursed", before, application, detail)
    return {**detail, "disbursed_at": now.isoformat()}


def record_settlement(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """结清: the date the loan was settled."""
    application, now = application_of_operation(operation), operation.now
    settled_on = date.fromisoformat(values["settled_on"])
    check_business_date(settled_on, "settled_on", application.disbursed_at, now)
    if application.disbursed_on is not None and settled_on < application.disbursed_on:
        raise ValidationFailed({"settled_on": ["Cannot be before the disbursement date."]},
                               problems={"settled_on": [("before_disbursement", {})]})
    before = application.status
    application.status, application.settled_on, application.settled_at = statuses.SETTLED, settled_on, now
    application.updated_at = now
    detail = {"settled_on": settled_on.isoformat()}
    journal(operation, "settled", before, application, detail)
    return detail


def check_business_date(day: date, field: str, earliest: datetime | None, now: datetime) -> None:
    """A reported date lies between the previous step and today (Asia/Shanghai)."""
    if day > now.astimezone(SHANGHAI).date():
        raise ValidationFailed({field: ["Cannot be in the future."]}, problems={field: [("in_future", {})]})
    if earliest is not None and day < earliest.astimezone(SHANGHAI).date():
        raise ValidationFailed({field: ["Cannot be before the previous step."]},
                               problems={field: [("before_previous_step", {})]})


def close_open_breaches(session: Session, application: LoanApplication, operation: InstanceOperation,
                        resolution: str, kinds: tuple[str, ...] | None = None) -> None:
    """Resolve the application's open breaches (of `kinds`, or all) with how late the institution was."""
    now = operation.now
    query = sa.select(SlaBreach).where(SlaBreach.application_id == application.id, SlaBreach.resolved_at.is_(None))
    if kinds is not None:
        query = query.where(SlaBreach.kind.in_(kinds))
    for breach in session.scalars(query):
        breach.resolved_at, breach.resolution = now, resolution
        breach.late_seconds = int((now - breach.due_at).total_seconds())
        breach.late_working_days = operation.calendar.working_days_late(breach.due_at, now)


def journal(operation: InstanceOperation, action: str, before: str | None, application: LoanApplication,
            detail: dict[str, Any]) -> None:
    """The audit event and the outbox message of a change to an application."""
    session, now, actor = operation.session, operation.now, operation.actor
    record_audit(session, now, actor.id, action, application_id=application.id,
                 instance_id=operation.instance.id, status_before=before, status_after=application.status,
                 detail=detail)
    enqueue(session, now, f"application.{action}", {
        "application": application.reference, "institution_id": application.institution_id,
        "enterprise_id": application.enterprise_id, "status": application.status, "at": now.isoformat(),
    })


EFFECTS: dict[str, Effect] = {
    "record_acceptance": record_acceptance,
    "record_decision": record_decision,
    "record_disbursement": record_disbursement,
    "record_settlement": record_settlement,
    "record_material_supplied": record_material_supplied,
}
