"""Who sees and acts on which task: a model's `role` bound to the platform's tenancy.

- `institution`: officers, institution admins and the bank's own system of the case's handling
  institution (`task.institution_id`);
- `enterprise`: users of the enterprise that applied (the case's `enterprise_id`);
- `supervisor`: supervisors; `operator`: the platform's system admins.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import (
    ENTERPRISE,
    INSTITUTION_ADMIN,
    INSTITUTION_ROLES,
    INSTITUTION_SYSTEM,
    OFFICER,
    SUPERVISOR,
    Actor,
)
from engine.loans.financing_problems import (
    is_problem_reference,
    owns_problem_instance,
    problem_instances_of,
    reference_taken,
)
from engine.models import LoanApplication, TaskRow, UserAccount
from engine.platform.access import SYSTEM_ADMIN


class LoanTaskPolicy:
    def join(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.outerjoin(LoanApplication, LoanApplication.id == TaskRow.application_id)

    def visible(self, actor: Actor) -> sa.ColumnElement[bool]:
        if actor.role in INSTITUTION_ROLES and actor.institution_id is not None:
            return sa.and_(TaskRow.role == "institution", TaskRow.institution_id == actor.institution_id)
        if actor.role == ENTERPRISE and actor.enterprise_id is not None:
            # Its applications' tasks, and those of its financing problems about no application.
            return sa.and_(TaskRow.role == "enterprise", sa.or_(
                LoanApplication.enterprise_id == actor.enterprise_id,
                sa.and_(TaskRow.application_id.is_(None),
                        TaskRow.instance_id.in_(problem_instances_of(actor.enterprise_id)))))
        if actor.role == SUPERVISOR:
            return TaskRow.role == "supervisor"
        if actor.role == SYSTEM_ADMIN:
            return TaskRow.role == "operator"
        return sa.false()

    def may_act(self, session: Session, actor: Actor, task: TaskRow) -> bool:
        if task.role == "institution":
            return actor.role in INSTITUTION_ROLES and actor.institution_id == task.institution_id
        if task.role == "enterprise":
            if task.application_id is None:
                return actor.role == ENTERPRISE and owns_problem_instance(session, actor.enterprise_id,
                                                                          task.instance_id)
            owner = session.scalar(sa.select(LoanApplication.enterprise_id)
                                   .where(LoanApplication.id == task.application_id))
            return actor.role == ENTERPRISE and owner is not None and actor.enterprise_id == owner
        if task.role == "supervisor":
            return actor.role == SUPERVISOR
        if task.role == "operator":
            return actor.role == SYSTEM_ADMIN
        return False

    def may_manage(self, actor: Actor, task: TaskRow) -> bool:
        return task.role == "institution" and actor.role == INSTITUTION_ADMIN

    def acts_as_institution(self, actor: Actor) -> bool:
        return actor.role == INSTITUTION_SYSTEM

    def assignable(self, session: Session, actor: Actor, task: TaskRow, username: str) -> bool:
        colleague = session.scalars(sa.select(UserAccount).where(
            UserAccount.username == username, UserAccount.active.is_(True))).first()
        if colleague is None:
            return False
        if task.role == "institution":
            return colleague.institution_id == task.institution_id and colleague.role in (OFFICER, INSTITUTION_ADMIN)
        if task.role == "supervisor":
            return colleague.role == SUPERVISOR
        if task.role == "operator":
            return colleague.role == SYSTEM_ADMIN
        return False  # an enterprise's task is the enterprise's

    def may_start(self, session: Session, actor: Actor, role: str, business_key: str) -> bool:
        """A process for an application is started by a party of it (or a supervisor/operator)."""
        application = session.scalars(sa.select(LoanApplication).where(
            LoanApplication.reference == business_key)).first()
        if application is None:
            # A financing problem about no application: started by an enterprise under a new reference.
            return (role == "enterprise" and actor.role == ENTERPRISE and actor.enterprise_id is not None
                    and is_problem_reference(business_key) and not reference_taken(session, business_key))
        if role == "institution":
            return actor.role in INSTITUTION_ROLES and actor.institution_id == application.institution_id
        if role == "enterprise":
            return actor.role == ENTERPRISE and actor.enterprise_id == application.enterprise_id
        if role == "supervisor":
            return actor.role == SUPERVISOR
        return role == "operator" and actor.role == SYSTEM_ADMIN

    def case_status(self, session: Session, task: TaskRow) -> str | None:
        # Through the identity map: a step has the application loaded already (no second read).
        application = session.get(LoanApplication, task.application_id) if task.application_id else None
        return application.status if application is not None else None
