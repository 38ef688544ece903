"""The audit trail is append-only, in the database itself."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent


def test_audit_events_cannot_be_changed_or_deleted(engine, submit):
    submit()
    for statement in (sa.update(AuditEvent).values(actor="someone else"), sa.delete(AuditEvent)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.transaction() as session:
                session.execute(statement)
    with engine.transaction() as session:
        assert session.scalars(sa.select(AuditEvent.actor)).all() == ["ent-user"]
