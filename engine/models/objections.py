"""Objections (异议申诉), the corrections they lead to, and financing problems (融资问题反映).

Each objection and each financing problem is one instance of its process (bpmn/objection.bpmn,
bpmn/financing_problem.bpmn); these rows are what the named operations of engine/loans/objections.py
and engine/loans/financing_problems.py write, so that pages read them without loading a workflow.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class Objection(Base):
    """An enterprise's objection to one value its institution reported about its application."""

    __tablename__ = "objection"
    __table_args__ = (sa.Index("ix_objection_application_state", "application_id", "state"),)

    id: Mapped[int] = pk()
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"))
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(40))  # engine.loans.objections.FIELDS
    reported_value: Mapped[str | None] = mapped_column(sa.String(200))  # as it stood when filed
    reason: Mapped[str] = mapped_column(sa.String(1000))
    filed_at: Mapped[datetime]
    filed_by: Mapped[str] = mapped_column(sa.String(100))
    due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(sa.String(20))  # open | upheld | corrected
    escalated_at: Mapped[datetime | None]  # the answer's deadline passed: 督办
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(100))
    explanation: Mapped[str | None] = mapped_column(sa.String(1000))


class RecordCorrection(Base):
    """A reported value changed by its institution: the old value kept beside the new, with the reason."""

    __tablename__ = "record_correction"

    id: Mapped[int] = pk()
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"), index=True)
    objection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("objection.id"))
    field: Mapped[str] = mapped_column(sa.String(40))
    old_value: Mapped[str | None] = mapped_column(sa.String(200))
    new_value: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.String(1000))
    corrected_at: Mapped[datetime]
    corrected_by: Mapped[str] = mapped_column(sa.String(100))


class FinancingProblem(Base):
    """A problem an enterprise reported (融资问题反映), about one of its applications or none."""

    __tablename__ = "financing_problem"

    id: Mapped[int] = pk()
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    reference: Mapped[str] = mapped_column(sa.String(64))  # the instance's business key
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("loan_application.id"))
    institution_id: Mapped[int | None] = mapped_column(sa.ForeignKey("institution.id"))
    category: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.String(2000))
    filed_at: Mapped[datetime]
    filed_by: Mapped[str] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.String(20))  # open | answered | resolved | unresolved | closed
    answer: Mapped[str | None] = mapped_column(sa.String(2000))
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(100))
    confirmed_at: Mapped[datetime | None]
    satisfied: Mapped[bool | None]
    closed_at: Mapped[datetime | None]
    closing_note: Mapped[str | None] = mapped_column(sa.String(2000))
