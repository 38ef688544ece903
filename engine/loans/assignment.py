"""An institution's colleagues to whom a task can be assigned (claiming and assigning: engine.workflow.tasks)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.actors import INSTITUTION_ADMIN, OFFICER
from engine.models import UserAccount


def colleagues(session: Session, institution_id: int) -> list[str]:
    return list(session.scalars(sa.select(UserAccount.username).where(
        UserAccount.institution_id == institution_id, UserAccount.active.is_(True),
        UserAccount.role.in_((OFFICER, INSTITUTION_ADMIN))).order_by(UserAccount.username)))
