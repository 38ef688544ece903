"""The satisfaction follow-up (融资满意度回访): each answered survey, one row."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class SurveyResponse(Base):
    """An enterprise's answers to the satisfaction survey of one application (ratings 1–5).

    Written by the survey task's `record_survey_response`; the supervisors' board counts these
    rows (answered, and satisfied: the four ratings average at least 4).
    """

    __tablename__ = "survey_response"
    __table_args__ = (
        sa.CheckConstraint(
            "service_attitude BETWEEN 1 AND 5 AND efficiency BETWEEN 1 AND 5 "
            "AND convenience BETWEEN 1 AND 5 AND financing_cost BETWEEN 1 AND 5", name="ratings"),
    )

    id: Mapped[int] = pk()
    # The survey's instance: one answer per survey.
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("loan_application.id"), index=True)
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"))
    answered_at: Mapped[datetime]
    answered_by: Mapped[str] = mapped_column(sa.String(100))
    service_attitude: Mapped[int]  # 服务态度
    efficiency: Mapped[int]  # 融资办理效率
    convenience: Mapped[int]  # 便利性
    financing_cost: Mapped[int]  # 实际融资成本
    suggestions: Mapped[str | None] = mapped_column(sa.String(1000))  # 意见建议
