"""The financing-problem channel (融资问题反映, the plan's "收集—反馈—解决" loop): bpmn/financing_problem.bpmn.

collect (the enterprise's start form: category, description, optionally one of its applications) →
route → answer (within the model's deadline) → the enterprise confirms (satisfied: closed; not
satisfied: a supervisor's task).

Routing: a problem about one of the enterprise's applications is started with that application's
reference as business key, so the case is the application and the answer is the handling
institution's task (a late answer is a breach against it). A problem about no application has its
own reference (`FP…`) as business key: no case, no institution; the platform's supervisors answer it
(the supervisors run the platform; the system admins are its technicians, not its service desk).
The enterprise's own tasks of such a problem are found through this table (engine.loans.task_policy).

Named operations: `open_financing_problem` (service task), `answer_financing_problem` (institution's
or supervisor's `onComplete`), `confirm_financing_problem` (enterprise's), `close_financing_problem`
(supervisor's after an unsatisfied confirmation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.operations import Effect
from engine.models import FinancingProblem, LoanApplication, TaskRow, UserAccount
from engine.workflow.adapter import ServiceHandler, SpiffTask, task_bpmn_id
from engine.workflow.errors import ModelError, ValidationFailed
from engine.workflow.journal import enqueue, record_audit
from engine.workflow.runtime import InstanceOperation
from engine.workflow.working_days import SHANGHAI

PROBLEM_PROCESS_KEY = "financing_problem"
PROBLEM_PREFIX = "FP"
CATEGORIES = ("approval_time", "financing_cost", "collateral", "service", "product", "other")
OPEN, ANSWERED, RESOLVED, UNRESOLVED, CLOSED = "open", "answered", "resolved", "unresolved", "closed"


def new_problem_reference(now: datetime) -> str:
    """The business key of a problem about no application: FP, the Beijing day, a random part."""
    return f"{PROBLEM_PREFIX}{now.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(4).upper()}"


def is_problem_reference(business_key: str) -> bool:
    return business_key.startswith(PROBLEM_PREFIX) and len(business_key) <= 32


def _case(operation: InstanceOperation) -> LoanApplication | None:
    context = operation.context
    if context.case_id is None:
        return None
    if isinstance(context.record, LoanApplication):
        return context.record
    return operation.session.get(LoanApplication, context.case_id)


def _problem_of(operation: InstanceOperation, activity: str) -> FinancingProblem:
    problem = operation.session.scalar(sa.select(FinancingProblem).where(
        FinancingProblem.instance_id == operation.instance.id))
    if problem is None:
        raise ModelError("This process has no financing problem on record (open_financing_problem must run first)",
                         activity=activity)
    return problem


def open_financing_problem(operation: InstanceOperation, task: SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
    """Keep the problem; say where it goes: `institution` (its application's) or `platform`."""
    session, now = operation.session, operation.now
    category, description = params.get("category"), str(params.get("description") or "").strip()
    filed_by = str(params.get("filed_by") or getattr(operation.actor, "id", None) or "")
    if category not in CATEGORIES:
        raise ValidationFailed({"category": ["Not one of the choices."]},
                               problems={"category": [("not_an_option", {})]})
    if not description:
        raise ValidationFailed({"description": ["Missing data for required field."]},
                               problems={"description": [("required", {})]})
    application = _case(operation)
    enterprise_id = (application.enterprise_id if application is not None else
                     session.scalar(sa.select(UserAccount.enterprise_id).where(UserAccount.username == filed_by)))
    if enterprise_id is None:
        raise ModelError(f"open_financing_problem in {task_bpmn_id(task)}: the problem has no enterprise "
                         "(filed_by names no enterprise user)", activity=task_bpmn_id(task))
    problem = FinancingProblem(
        instance_id=operation.instance.id, reference=operation.instance.business_key, enterprise_id=enterprise_id,
        application_id=application.id if application else None,
        institution_id=application.institution_id if application else None, category=category,
        description=description[:2000], filed_at=now, filed_by=filed_by, state=OPEN)
    session.add(problem)
    session.flush()
    record_audit(session, now, filed_by, "financing_problem_filed",
                 application_id=application.id if application else None, instance_id=operation.instance.id,
                 detail={"category": category})
    routed_to = "institution" if application is not None else "platform"
    enqueue(session, now, "financing_problem.filed", {
        "application": application.reference if application else None,
        "institution_id": application.institution_id if application else None,
        "problem": problem.reference, "routed_to": routed_to})
    return {"problem_id": problem.id, "routed_to": routed_to}


def answer_financing_problem(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """答复: the institution's (or the platform's) answer, sent to the enterprise."""
    problem, now, actor = _problem_of(operation, task.bpmn_id), operation.now, operation.actor
    problem.answer = str(values.get("answer") or "").strip()[:2000]
    problem.state, problem.answered_at, problem.answered_by = ANSWERED, now, actor.id
    record_audit(operation.session, now, actor.id, "financing_problem_answered",
                 application_id=problem.application_id, instance_id=operation.instance.id,
                 detail={"category": problem.category})
    enqueue(operation.session, now, "financing_problem.answered", {
        "problem": problem.reference, "enterprise_id": problem.enterprise_id})
    return {"answered_at": now.isoformat()}


def confirm_financing_problem(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """确认: the enterprise says whether the answer solved it; not satisfied, the supervisors are told."""
    problem, now, actor = _problem_of(operation, task.bpmn_id), operation.now, operation.actor
    satisfied = values.get("satisfied") == "yes"
    problem.satisfied, problem.confirmed_at = satisfied, now
    problem.state = RESOLVED if satisfied else UNRESOLVED
    record_audit(operation.session, now, actor.id, "financing_problem_confirmed",
                 application_id=problem.application_id, instance_id=operation.instance.id,
                 detail={"satisfied": satisfied})
    if not satisfied:
        enqueue(operation.session, now, "financing_problem.escalated", {"problem": problem.reference})
    return {"problem_satisfied": satisfied}


def close_financing_problem(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """督办办结: the supervisor's conclusion on a problem the enterprise was not satisfied with."""
    problem, now, actor = _problem_of(operation, task.bpmn_id), operation.now, operation.actor
    problem.closing_note = str(values.get("closing_note") or "").strip()[:2000]
    problem.state, problem.closed_at = CLOSED, now
    record_audit(operation.session, now, actor.id, "financing_problem_closed",
                 application_id=problem.application_id, instance_id=operation.instance.id, detail={})
    enqueue(operation.session, now, "financing_problem.closed", {
        "problem": problem.reference, "enterprise_id": problem.enterprise_id})
    return {"closed_at": now.isoformat()}


PROBLEM_EFFECTS: dict[str, Effect] = {
    "answer_financing_problem": answer_financing_problem, "confirm_financing_problem": confirm_financing_problem,
    "close_financing_problem": close_financing_problem}
PROBLEM_OPERATORS = ("open_financing_problem",)


def problem_services(operation: InstanceOperation) -> dict[str, ServiceHandler]:
    return {"open_financing_problem": lambda task, params: open_financing_problem(operation, task, params)}


# Tenancy and read side ---------------------------------------------------------------------------

def problem_instances_of(enterprise_id: int) -> sa.Select[Any]:
    """The instances of an enterprise's problems (its tasks of problems about no application)."""
    return sa.select(FinancingProblem.instance_id).where(FinancingProblem.enterprise_id == enterprise_id)


def owns_problem_instance(session: Session, enterprise_id: int | None, instance_id: int) -> bool:
    return enterprise_id is not None and session.scalar(sa.select(FinancingProblem.id).where(
        FinancingProblem.instance_id == instance_id, FinancingProblem.enterprise_id == enterprise_id)) is not None


def reference_taken(session: Session, business_key: str) -> bool:
    return session.scalar(sa.select(FinancingProblem.id).where(
        FinancingProblem.reference == business_key).limit(1)) is not None


@dataclass(frozen=True)
class ProblemLine:
    problem: FinancingProblem
    application_reference: str | None


def problems_of_enterprise(session: Session, enterprise_id: int, limit: int = 200) -> list[ProblemLine]:
    """The enterprise's problems, newest first."""
    rows = session.execute(sa.select(FinancingProblem, LoanApplication.reference)
                           .outerjoin(LoanApplication, LoanApplication.id == FinancingProblem.application_id)
                           .where(FinancingProblem.enterprise_id == enterprise_id)
                           .order_by(FinancingProblem.filed_at.desc(), FinancingProblem.id.desc()).limit(limit))
    return [ProblemLine(problem, reference) for problem, reference in rows]
