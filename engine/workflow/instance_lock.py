"""Loading an instance for a change under its row lock, with statements prepared once.

Every operation starts here, so the statements are built at import and run with parameters: building a
SQLAlchemy statement per call costs more than running it on a small table (see BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.database import is_postgresql
from engine.workflow.models import ProcessInstance


@dataclass(frozen=True)
class InstanceLock:
    """A prepared "load and lock the instance whose id is ..." statement: build once, run often.

    `instance_id` is a bind parameter or a scalar subquery with bind parameters (the instance of a
    case found by its key), so that finding and locking is one statement.
    """

    plain: sa.Select[Any]
    locking: sa.Select[Any]

    @classmethod
    def where_id(cls, instance_id: Any) -> InstanceLock:
        plain = (sa.select(ProcessInstance).where(ProcessInstance.id == instance_id)
                 .execution_options(populate_existing=True))
        return cls(plain, plain.with_for_update())

    def load(self, session: Session, params: dict[str, Any]) -> ProcessInstance | None:
        """The instance, its row lock held until commit on PostgreSQL (SQLite's transaction already
        holds the database's write lock); re-read even when in the session, so it is current."""
        statement = self.locking if is_postgresql(session) else self.plain
        return session.scalars(statement, params).first()


BY_INSTANCE_ID = InstanceLock.where_id(sa.bindparam("lock_instance_id"))
