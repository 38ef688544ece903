"""The loan lifecycle's services: each is one transaction, and a refused step changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.definitions import LOAN_PROCESS_KEY, latest_definition
from engine.errors import Forbidden, InvalidTransition, NotFound, StepAlreadyTaken, ValidationFailed
from engine.journal import enqueue, record_audit
from engine.loans import commands, statuses
from engine.loans.actors import (
    ENTERPRISE,
    Actor,
    ensure_enterprise_owns,
    ensure_institution_may_act,
)
from engine.loans.binding import LoanBinding
from engine.loans.statuses import Step
from engine.models import (
    CreditAuthorization,
    Enterprise,
    Institution,
    LoanApplication,
    LoanProduct,
    SlaBreach,
)
from engine.runtime import Engine, InstanceContext, InstanceOperation, retry_on_conflict
from engine.working_days import SHANGHAI

WITHDRAWAL_MESSAGE = "withdrawal_requested"
APPLICATION_NOT_FOUND = "No such application."
# An application is named by its id or by its reference (as the API does).
ApplicationKey = int | str


def install(engine: Engine) -> None:
    """Teach the engine what the loan process's service tasks and instances mean."""
    engine.bind(LOAN_PROCESS_KEY, LoanBinding())


def _new_reference(now: datetime) -> str:
    return f"LA{now:%Y%m%d}{secrets.token_hex(4).upper()}"


@retry_on_conflict
def submit(engine: Engine, actor: Actor, data: dict[str, Any]) -> LoanApplication:
    """Submit an enterprise's application with its credit-query authorization and start its workflow."""
    if actor.role != ENTERPRISE or actor.enterprise_id is None:
        raise Forbidden("Only an enterprise user can submit an application")
    command = commands.load(commands.SubmitSchema, data)
    with engine.transaction() as session:
        now = engine.clock.now()
        _check_parties(session, actor, command, now)
        application = LoanApplication(
            reference=_new_reference(now), enterprise_id=actor.enterprise_id,
            institution_id=command["institution_id"], product_id=command["product_id"],
            status=statuses.SUBMITTED, amount=command["amount"], term_months=command["term_months"],
            purpose=command["purpose"], submitted_at=now, submitted_by=actor.id, updated_at=now,
        )
        session.add(application)
        session.flush()
        authorization = command["authorization"]
        session.add(CreditAuthorization(
            application_id=application.id, enterprise_id=actor.enterprise_id,
            institution_id=application.institution_id, **authorization,
        ))
        definition = latest_definition(session, LOAN_PROCESS_KEY)
        operation = engine.start(
            session, definition, application.reference,
            {"submitted_at": now.isoformat(), "application_reference": application.reference},
            InstanceContext(application.id, application.institution_id),
        )
        application.instance_id = operation.instance.id
        operation.save(actor.id)
        _journal(session, operation, actor, "submitted", None, application, {
            "amount": str(application.amount), "term_months": application.term_months,
            "authorization_scope": authorization["scope"],
        })
        return application


def _check_parties(session: Session, actor: Actor, command: dict[str, Any], now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    institution = session.get(Institution, command["institution_id"])
    product = session.get(LoanProduct, command["product_id"])
    if institution is None:
        errors["institution_id"] = ["No such institution."]
    elif institution.status != "active" and institution.status != "warned":
        errors["institution_id"] = ["This institution does not take new applications at present."]
    if product is None or product.institution_id != command["institution_id"] or not product.active:
        errors["product_id"] = ["No such product at this institution."]
    if command["authorization"]["expires_at"] <= now:
        errors["authorization.expires_at"] = ["The authorization has already expired."]
    if session.get(Enterprise, actor.enterprise_id) is None:
        errors["enterprise"] = ["Your enterprise is not registered."]
    if errors:
        raise ValidationFailed(errors)


@retry_on_conflict
def accept(engine: Engine, actor: Actor, application_id: ApplicationKey,
           data: dict[str, Any] | None = None) -> LoanApplication:
    """Record that the institution accepted (受理) the application."""
    command = commands.load(commands.AcceptSchema, data or {})

    def apply(app: LoanApplication, now: datetime) -> dict[str, Any]:
        app.status, app.accepted_at, app.accepted_by, app.accept_note = (
            statuses.ACCEPTED, now, actor.id, command["note"])
        return {"accepted_at": now.isoformat(), "accepted_by": actor.id}

    return _institution_step(engine, actor, application_id, statuses.ACCEPT, "accepted", apply, "accept")


@retry_on_conflict
def approve(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record a credit approval (授信) with amount, annual rate and term."""
    command = commands.load(commands.ApproveSchema, data)

    def apply(app: LoanApplication, now: datetime) -> dict[str, Any]:
        app.status, app.decided_at, app.decided_by = statuses.APPROVED, now, actor.id
        app.approved_amount, app.annual_rate = command["amount"], command["annual_rate"]
        app.approved_term_months, app.approval_conditions = command["term_months"], command["conditions"]
        return {"decision": "approve", "approved_amount": str(command["amount"])}

    return _institution_step(engine, actor, application_id, statuses.DECIDE, "approved", apply, "decision")


@retry_on_conflict
def reject(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record a rejection (拒绝); the reason is shown to the enterprise."""
    command = commands.load(commands.RejectSchema, data)

    def apply(app: LoanApplication, now: datetime) -> dict[str, Any]:
        app.status, app.decided_at, app.decided_by = statuses.REJECTED, now, actor.id
        app.rejection_reason = command["reason"].strip()
        return {"decision": "reject"}

    return _institution_step(engine, actor, application_id, statuses.DECIDE, "rejected", apply, "decision")


@retry_on_conflict
def disburse(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record the disbursement (放款): contract number, amount, date."""
    command = commands.load(commands.DisburseSchema, data)

    def apply(app: LoanApplication, now: datetime) -> dict[str, Any]:
        if app.approved_amount is not None and command["amount"] > app.approved_amount:
            raise ValidationFailed({"amount": ["Cannot exceed the approved amount."]})
        _check_business_date(command["disbursed_on"], "disbursed_on", app.decided_at, now)
        app.status, app.contract_number = statuses.DISBURSED, command["contract_number"]
        app.disbursed_amount, app.disbursed_on = command["amount"], command["disbursed_on"]
        app.disbursement_account, app.disbursed_at = command["account"], now
        return {"disbursed_amount": str(command["amount"])}

    return _institution_step(engine, actor, application_id, statuses.DISBURSE, "disbursed", apply, None)


@retry_on_conflict
def settle(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record that the loan is settled (结清)."""
    command = commands.load(commands.SettleSchema, data)

    def apply(app: LoanApplication, now: datetime) -> dict[str, Any]:
        _check_business_date(command["settled_on"], "settled_on", app.disbursed_at, now)
        if app.disbursed_on is not None and command["settled_on"] < app.disbursed_on:
            raise ValidationFailed({"settled_on": ["Cannot be before the disbursement date."]})
        app.status, app.settled_on, app.settled_at = statuses.SETTLED, command["settled_on"], now
        return {"settled_on": command["settled_on"].isoformat()}

    return _institution_step(engine, actor, application_id, statuses.SETTLE, "settled", apply, None)


@retry_on_conflict
def withdraw(engine: Engine, actor: Actor, application_id: ApplicationKey,
             data: dict[str, Any] | None = None) -> LoanApplication:
    """Withdraw an application before the decision; open tasks and timers are cancelled."""
    command = commands.load(commands.WithdrawSchema, data or {})
    with engine.transaction() as session:
        application, operation = _open(engine, session, application_id)
        ensure_enterprise_owns(actor, application)
        _check_step(application, statuses.WITHDRAW)
        before = application.status
        now = engine.clock.now()
        if not operation.send_message(WITHDRAWAL_MESSAGE, {"reason": command["reason"]}):
            raise InvalidTransition("This application can no longer be withdrawn")
        application.status, application.withdrawn_at = statuses.WITHDRAWN, now
        application.withdrawal_reason, application.updated_at = command["reason"], now
        _close_open_breaches(session, application, now, "withdrawn", operation)
        operation.save(actor.id)
        _journal(session, operation, actor, "withdrawn", before, application, {"reason": command["reason"]})
        return application


def _check_business_date(day: date, field: str, earliest: datetime | None, now: datetime) -> None:
    """A reported date lies between the previous step and today (Asia/Shanghai)."""
    if day > now.astimezone(SHANGHAI).date():
        raise ValidationFailed({field: ["Cannot be in the future."]})
    if earliest is not None and day < earliest.astimezone(SHANGHAI).date():
        raise ValidationFailed({field: ["Cannot be before the previous step."]})


def _open(engine: Engine, session: Session,
          application_id: ApplicationKey) -> tuple[LoanApplication, InstanceOperation]:
    by = LoanApplication.reference if isinstance(application_id, str) else LoanApplication.id
    instance = engine.lock_instance(
        session, sa.select(LoanApplication.instance_id).where(by == application_id).scalar_subquery())
    if instance is None:  # the same words whether it exists for someone else or not at all (no oracle)
        raise NotFound(APPLICATION_NOT_FOUND)
    # Read after the lock: whoever held it before has committed, so this is the current record.
    application = session.scalars(sa.select(LoanApplication).where(LoanApplication.instance_id == instance.id)
                                  .execution_options(populate_existing=True)).one()
    operation = engine.open(session, instance, InstanceContext(application.id, application.institution_id))
    # Timers that came due before this step are fired first, so a late step is seen as late.
    operation.fire_due_timers()
    return application, operation


def _check_step(application: LoanApplication, step: Step) -> None:
    if application.status in step.taken_in:
        raise StepAlreadyTaken(
            f"Application {application.reference} is already {application.status}",
            status=application.status,
        )
    if application.status not in step.allowed_from:
        raise InvalidTransition(
            f"Cannot {step.name} application {application.reference} while it is {application.status}",
            status=application.status,
        )


def _institution_step(
    engine: Engine, actor: Actor, application_id: ApplicationKey, step: Step, action: str,
    apply: Callable[[LoanApplication, datetime], dict[str, Any]], sla_kind: str | None,
) -> LoanApplication:
    with engine.transaction() as session:
        application, operation = _open(engine, session, application_id)
        ensure_institution_may_act(actor, application)
        _check_step(application, step)
        task = operation.ready_task(step.bpmn_task or "")
        if task is None:
            raise InvalidTransition(f"The process has no open {step.name} task", status=application.status)
        before, now = application.status, engine.clock.now()
        task_data = apply(application, now)
        application.updated_at = now
        if sla_kind == "decision":
            application.decision_working_days = operation.calendar.working_days_between(
                application.submitted_at, now)
        operation.complete(task, task_data)
        if sla_kind is not None:
            _close_open_breaches(session, application, now, "acted", operation, kinds=(sla_kind,))
        operation.save(actor.id)
        _journal(session, operation, actor, action, before, application, task_data)
        return application


def _close_open_breaches(session: Session, application: LoanApplication, now: datetime, resolution: str,
                         operation: InstanceOperation, kinds: tuple[str, ...] = ("accept", "decision")) -> None:
    """Resolve the application's open breaches with how late the institution was."""
    breaches = session.scalars(sa.select(SlaBreach).where(
        SlaBreach.application_id == application.id, SlaBreach.kind.in_(kinds), SlaBreach.resolved_at.is_(None)
    ))
    for breach in breaches:
        breach.resolved_at, breach.resolution = now, resolution
        breach.late_seconds = int((now - breach.due_at).total_seconds())
        breach.late_working_days = operation.calendar.working_days_late(breach.due_at, now)


def _journal(session: Session, operation: InstanceOperation, actor: Actor, action: str, before: str | None,
             application: LoanApplication, detail: dict[str, Any]) -> None:
    now = operation.now
    record_audit(session, now, actor.id, action, application_id=application.id,
                 instance_id=operation.instance.id, status_before=before, status_after=application.status,
                 detail=detail)
    enqueue(session, now, f"application.{action}", {
        "application": application.reference, "institution_id": application.institution_id,
        "enterprise_id": application.enterprise_id, "status": application.status, "at": now.isoformat(),
    })
