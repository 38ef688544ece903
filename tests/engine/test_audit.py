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


def test_disclosures_cannot_be_changed_or_deleted(engine, submit, parties, clock):
    from engine.models.loans import DisclosureRecord

    application_id = submit()
    with engine.transaction() as session:
        session.add(DisclosureRecord(at=clock.now(), application_id=application_id,
                                     institution_id=parties.bank_a_id, actor="officer-a", action="reveal",
                                     via="page", purpose="handling_application"))
    for statement in (sa.update(DisclosureRecord).values(purpose="case_record"), sa.delete(DisclosureRecord)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.transaction() as session:
                session.execute(statement)
    with engine.transaction() as session:
        assert session.scalars(sa.select(DisclosureRecord.purpose)).all() == ["handling_application"]
