"""The loan lifecycle's services: each is one transaction, and a refused step changes nothing."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import commands, figures, statuses
from engine.loans.actors import (
    ENTERPRISE,
    Actor,
    ensure_enterprise_owns,
    ensure_institution_may_act,
)
from engine.loans.binding import LOAN_PROCESS_KEY, LoanBinding
from engine.loans.operations import close_open_breaches, journal
from engine.loans.task_policy import LoanTaskPolicy
from engine.models import CreditAuthorization, Enterprise, Institution, LoanApplication, LoanProduct, TaskRow
from engine.workflow import tasks
from engine.workflow.binding import InstanceContext
from engine.workflow.definitions import latest_definition_id
from engine.workflow.errors import Forbidden, InvalidTransition, NotFound, StepAlreadyTaken, ValidationFailed
from engine.workflow.instance_lock import InstanceLock
from engine.workflow.retry import retry_on_conflict
from engine.workflow.runtime import Engine, InstanceOperation

WITHDRAWAL_MESSAGE = "withdrawal_requested"
APPLICATION_NOT_FOUND = "No such application."
# An application is named by its id or by its reference (as the API does).
ApplicationKey = int | str


def install(engine: Engine) -> None:
    """Teach the engine the platform's processes: cases are applications, tasks follow tenancy.

    Every process (the lifecycle and whatever an author deploys) runs for an application and may
    call the registry's operations (engine.loans.operations, engine.loans.binding).
    """
    binding = LoanBinding()
    figures.install(engine.session_factory)  # the board's figures kept in every write transaction
    engine.bind(LOAN_PROCESS_KEY, binding)
    engine.default_binding = binding
    engine.task_policy = LoanTaskPolicy()


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
        institution, product, definition_id = _check_parties(session, actor, command, now)
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
        definition = (engine.definition(session, definition_id) if definition_id is not None
                      else engine.latest_definition(session, LOAN_PROCESS_KEY))  # none deployed: NotFound
        operation = engine.start(
            session, definition, application.reference,
            _start_data(application, institution, product),
            InstanceContext(application.id, application.institution_id),
        )
        application.instance_id = operation.instance.id
        operation.save(actor.id)
        operation.actor = actor
        journal(operation, "submitted", None, application, {
            "amount": str(application.amount), "term_months": application.term_months,
            "authorization_scope": authorization["scope"],
        })
        return application


def _start_data(application: LoanApplication, institution: Institution, product: LoanProduct) -> dict[str, Any]:
    """What the lifecycle starts with: when and what was asked, for its timers and decision tables."""
    return {
        "submitted_at": application.submitted_at.isoformat(), "application_reference": application.reference,
        "product_code": product.code, "institution_code": institution.code,
        "requested_amount": float(application.amount), "requested_term_months": application.term_months,
    }


def _check_parties(session: Session, actor: Actor, command: dict[str, Any],
                   now: datetime) -> tuple[Institution, LoanProduct, int | None]:
    """The institution and product an application names and the lifecycle's newest version (one
    statement), or ValidationFailed saying what is wrong."""
    errors: dict[str, list[str]] = {}
    found = session.execute(_PARTIES, {"institution_id": command["institution_id"],
                                       "product_id": command["product_id"],
                                       "enterprise_id": actor.enterprise_id}).first()
    if found is None:  # not registered: the institution and product checked all the same, to say all at once
        errors["enterprise"] = ["Your enterprise is not registered."]
        institution, product, definition_id = (session.get(Institution, command["institution_id"]),
                                               session.get(LoanProduct, command["product_id"]), None)
    else:
        _, institution, product, definition_id = found
    if institution is None:
        errors["institution_id"] = ["No such institution."]
    elif institution.status != "active" and institution.status != "warned":
        errors["institution_id"] = ["This institution does not take new applications at present."]
    if product is None or product.institution_id != command["institution_id"] or not product.active:
        errors["product_id"] = ["No such product at this institution."]
    if command["authorization"]["expires_at"] <= now:
        errors["authorization.expires_at"] = ["The authorization has already expired."]
    if errors or institution is None or product is None:
        raise ValidationFailed(errors)
    return institution, product, definition_id


# The applicant's enterprise (a row only if it is registered), the named institution and product (each
# or None), and the lifecycle's newest version: what a submission checks, read together.
_PARTIES = (
    sa.select(Enterprise.id, Institution, LoanProduct, latest_definition_id(LOAN_PROCESS_KEY))
    .select_from(Enterprise)
    .outerjoin(Institution, Institution.id == sa.bindparam("institution_id"))
    .outerjoin(LoanProduct, LoanProduct.id == sa.bindparam("product_id"))
    .where(Enterprise.id == sa.bindparam("enterprise_id")))


# The banks' façade: each endpoint completes the case's open task whose model names it
# (`apiStep`), through the generic task runtime. The API's own schemas stay its contract.
ACCEPT_STEP, DECISION_STEP, DISBURSEMENT_STEP, SETTLEMENT_STEP = "accept", "decision", "disbursement", "settlement"
# Verbs for the refusal messages (web.labels translates them by pattern).
_VERBS = {ACCEPT_STEP: "accept", DECISION_STEP: "decide", DISBURSEMENT_STEP: "disburse", SETTLEMENT_STEP: "settle"}


@retry_on_conflict
def accept(engine: Engine, actor: Actor, application_id: ApplicationKey,
           data: dict[str, Any] | None = None) -> LoanApplication:
    """Record that the institution accepted (受理) the application."""
    command = commands.load(commands.AcceptSchema, data or {})
    return _facade_step(engine, actor, application_id, ACCEPT_STEP, _form_data(command))


@retry_on_conflict
def approve(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record a credit approval (授信) with amount, annual rate and term."""
    command = commands.load(commands.ApproveSchema, data)
    return _facade_step(engine, actor, application_id, DECISION_STEP, {"decision": "approve", **_form_data(command)})


@retry_on_conflict
def reject(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record a rejection (拒绝); the reason is shown to the enterprise."""
    command = commands.load(commands.RejectSchema, data)
    return _facade_step(engine, actor, application_id, DECISION_STEP, {"decision": "reject", **_form_data(command)})


@retry_on_conflict
def disburse(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record the disbursement (放款): contract number, amount, date."""
    command = commands.load(commands.DisburseSchema, data)
    return _facade_step(engine, actor, application_id, DISBURSEMENT_STEP, _form_data(command))


@retry_on_conflict
def settle(engine: Engine, actor: Actor, application_id: ApplicationKey, data: dict[str, Any]) -> LoanApplication:
    """Record that the loan is settled (结清)."""
    command = commands.load(commands.SettleSchema, data)
    return _facade_step(engine, actor, application_id, SETTLEMENT_STEP, _form_data(command))


def _form_data(command: dict[str, Any]) -> dict[str, Any]:
    """A loaded command as a form takes it: decimals and dates as text, nothing empty."""
    data: dict[str, Any] = {}
    for key, value in command.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"  # the forms' first_loan choice
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, date):
            value = value.isoformat()
        data[key] = value
    return data


def _facade_step(engine: Engine, actor: Actor, application_id: ApplicationKey, step: str,
                 data: dict[str, Any]) -> LoanApplication:
    with engine.transaction() as session:
        application, operation, task = _open(engine, session, application_id, step)
        ensure_institution_may_act(actor, application)
        if task is None:
            _refuse_step(operation, application, step)
        tasks.complete_in(operation, actor, task, _known_to_form(engine, session, operation, task, data))
        return application


# Optional fields the API added later (the loan's type, first loan, term class): a case still on
# a model version whose form lacks them takes the step without them rather than refusing it.
_LATER_OPTIONAL_FIELDS = frozenset({"loan_type", "first_loan", "term_class"})


def _known_to_form(engine: Engine, session: Session, operation: InstanceOperation, task: TaskRow,
                   data: dict[str, Any]) -> dict[str, Any]:
    if not _LATER_OPTIONAL_FIELDS & data.keys():
        return data
    form = engine.forms(session, operation.definition).get(task.form_key) if task.form_key else None
    keys = {item.key for item in form.inputs} if form is not None else set()
    return {key: value for key, value in data.items() if key not in _LATER_OPTIONAL_FIELDS or key in keys}


def _refuse_step(operation: InstanceOperation, application: LoanApplication, step: str) -> NoReturn:
    """No open task for the step: taken already (a retry or a race), or not (yet, or any more) possible."""
    if operation.step_taken(step):
        raise StepAlreadyTaken(f"Application {application.reference} is already {application.status}",
                               status=application.status)
    raise InvalidTransition(f"Cannot {_VERBS[step]} application {application.reference} "
                            f"while it is {application.status}", status=application.status)


@retry_on_conflict
def withdraw(engine: Engine, actor: Actor, application_id: ApplicationKey,
             data: dict[str, Any] | None = None) -> LoanApplication:
    """Withdraw an application before the decision; open tasks and timers are cancelled."""
    command = commands.load(commands.WithdrawSchema, data or {})
    with engine.transaction() as session:
        application, operation, _ = _open(engine, session, application_id)
        ensure_enterprise_owns(actor, application)
        if application.status == statuses.WITHDRAWN:
            raise StepAlreadyTaken(f"Application {application.reference} is already {application.status}",
                                   status=application.status)
        before = application.status
        now = engine.clock.now()
        if not operation.send_message(WITHDRAWAL_MESSAGE, {"reason": command["reason"]}):
            raise InvalidTransition(f"Cannot withdraw application {application.reference} "
                                    f"while it is {application.status}", status=application.status)
        application.status, application.withdrawn_at = statuses.WITHDRAWN, now
        application.withdrawal_reason, application.updated_at = command["reason"], now
        operation.actor = actor
        close_open_breaches(session, application, operation, "withdrawn")
        operation.save(actor.id)
        journal(operation, "withdrawn", before, application, {"reason": command["reason"]})
        return application





def _open(engine: Engine, session: Session, application_id: ApplicationKey,
          api_step: str | None = None) -> tuple[LoanApplication, InstanceOperation, TaskRow | None]:
    """Lock the case of an application (by id or reference), read it, and find the open task the
    model names `api_step` (None without one) in the same statement; due timers are fired first."""
    by_reference = isinstance(application_id, str)
    instance = engine.lock_instance(session, _INSTANCE_BY_REFERENCE if by_reference else _INSTANCE_BY_ID,
                                    {"application_key": application_id})
    if instance is None:  # the same words whether it exists for someone else or not at all (no oracle)
        raise NotFound(APPLICATION_NOT_FOUND)
    # Read after the lock: whoever held it before has committed, so this is the current record.
    application, task = session.execute(_APPLICATION_AND_OPEN_TASK,
                                        {"instance_id": instance.id, "api_step": api_step}).one()
    operation = engine.open(session, instance, InstanceContext(application.id, application.institution_id))
    # Timers that came due before this step are fired first, so a late step is seen as late.
    operation.fire_due_timers()
    return application, operation, task


_INSTANCE_BY_ID, _INSTANCE_BY_REFERENCE = (
    InstanceLock.where_id(sa.select(LoanApplication.instance_id)
                          .where(key == sa.bindparam("application_key")).scalar_subquery())
    for key in (LoanApplication.id, LoanApplication.reference))
# The first open task of the step, if any (outer join: the application comes back either way).
_APPLICATION_AND_OPEN_TASK = (
    sa.select(LoanApplication, TaskRow)
    .outerjoin(TaskRow, sa.and_(TaskRow.instance_id == LoanApplication.instance_id,
                                TaskRow.api_step == sa.bindparam("api_step"), TaskRow.state == "open"))
    .where(LoanApplication.instance_id == sa.bindparam("instance_id"))
    .order_by(TaskRow.id).limit(1)
    .execution_options(populate_existing=True))
