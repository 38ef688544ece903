"""Who works on a task: claim, give back, assign within the institution."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import INSTITUTION_ADMIN, INSTITUTION_ROLES, OFFICER, Actor
from engine.models import LoanApplication, TaskRow, UserAccount
from engine.workflow.errors import ConcurrencyConflict, Forbidden, NotFound, ValidationFailed
from engine.workflow.journal import record_audit
from engine.workflow.runtime import Engine


def _open_task(session: Session, actor: Actor, task_id: int) -> TaskRow:
    # FOR UPDATE: two officers claiming at once are serialized on PostgreSQL (SQLite serializes anyway).
    task = session.scalars(sa.select(TaskRow).where(TaskRow.id == task_id).with_for_update()).first()
    if task is None or actor.role not in INSTITUTION_ROLES or task.institution_id != actor.institution_id:
        raise NotFound(f"Task {task_id} doesn't exist.")
    if task.state != "open":
        raise ConcurrencyConflict("This task is no longer open", status=task.state)
    return task


def _record(session: Session, engine: Engine, actor: Actor, task: TaskRow, action: str, assignee: str | None) -> None:
    status = session.scalar(sa.select(LoanApplication.status).where(LoanApplication.id == task.application_id))
    record_audit(session, engine.clock.now(), actor.id, action, application_id=task.application_id,
                 instance_id=task.instance_id, status_before=status, status_after=status,
                 detail={"task": task.bpmn_id, "assignee": assignee})


def claim(engine: Engine, actor: Actor, task_id: int) -> TaskRow:
    """Take a task of my institution for myself."""
    with engine.transaction() as session:
        task = _open_task(session, actor, task_id)
        if task.assignee not in (None, actor.id):
            raise ConcurrencyConflict("Already claimed by a colleague", status="claimed")
        task.assignee = actor.id
        _record(session, engine, actor, task, "task_claimed", actor.id)
        return task


def unclaim(engine: Engine, actor: Actor, task_id: int) -> TaskRow:
    """Give a task back to the institution's pool (its assignee or an institution admin)."""
    with engine.transaction() as session:
        task = _open_task(session, actor, task_id)
        if task.assignee != actor.id and actor.role != INSTITUTION_ADMIN:
            raise Forbidden("Only the assignee or an institution admin can give the task back")
        task.assignee = None
        _record(session, engine, actor, task, "task_unclaimed", None)
        return task


def assign(engine: Engine, actor: Actor, task_id: int, username: str) -> TaskRow:
    """Give a task to a colleague of the same institution."""
    with engine.transaction() as session:
        task = _open_task(session, actor, task_id)
        colleague = session.scalars(sa.select(UserAccount).where(
            UserAccount.username == username, UserAccount.active.is_(True))).first()
        if (colleague is None or colleague.institution_id != actor.institution_id
                or colleague.role not in (OFFICER, INSTITUTION_ADMIN)):
            raise ValidationFailed({"assignee": ["No such colleague at your institution."]})
        task.assignee = colleague.username
        _record(session, engine, actor, task, "task_assigned", colleague.username)
        return task


def colleagues(session: Session, institution_id: int) -> list[str]:
    return list(session.scalars(sa.select(UserAccount.username).where(
        UserAccount.institution_id == institution_id, UserAccount.active.is_(True),
        UserAccount.role.in_((OFFICER, INSTITUTION_ADMIN))).order_by(UserAccount.username)))
