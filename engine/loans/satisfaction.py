"""The satisfaction follow-up (融资满意度回访): the survey's named operation and the board's rates.

The shipped process `satisfaction_survey` (bpmn/satisfaction_survey.bpmn) is started for a case by
the loan model's `start_process` service tasks after a disbursement and after a rejection. Its
user task (the enterprise's) calls `record_survey_response` on completion; a survey nobody
answers ends at its deadline (end event `End_Unanswered`) and writes nothing.

The board's three rates (the provincial plan's targets: 80 % / 60 %, and 90 % satisfaction):
- invitation rate (邀请率): surveys started ÷ applications disbursed (or settled since) or rejected;
- response rate (有效回收率): surveys answered ÷ surveys started;
- satisfaction (满意度): answers whose four ratings average at least 4 (满意 or better) ÷ answers.
Each is a count over an index (the application's status, the instance's definition) or over the
answers' own table; no workflow is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import statuses
from engine.loans.operations import Effect, application_of_operation
from engine.models import (
    LoanApplication,
    ProcessDefinition,
    ProcessFigures,
    ProcessInstance,
    SurveyResponse,
    TaskRow,
)
from engine.workflow.errors import ModelError
from engine.workflow.journal import record_audit
from engine.workflow.runtime import InstanceOperation

SURVEY_PROCESS_KEY = "satisfaction_survey"
# The form's rating fields (1 非常不满意 … 5 非常满意), as the columns of SurveyResponse.
RATINGS = ("service_attitude", "efficiency", "convenience", "financing_cost")
# An answer is satisfied when its ratings average at least this (4: 满意).
SATISFIED_AVERAGE = 4
# The applications a survey is due for: a loan disbursed (settled ones were disbursed) or a rejection.
SURVEYED_STATUSES = (statuses.DISBURSED, statuses.SETTLED, statuses.REJECTED)


def record_survey_response(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """满意度调查: keep the enterprise's ratings and suggestions (one answer per survey)."""
    application, now, actor = application_of_operation(operation), operation.now, operation.actor
    ratings = {}
    for name in RATINGS:
        try:
            rating = int(values[name])
        except (KeyError, TypeError, ValueError):
            rating = 0
        if not 1 <= rating <= 5:
            raise ModelError(f"record_survey_response needs the form field {name!r} rated 1 to 5 "
                             f"(found {values.get(name)!r})", activity=task.bpmn_id)
        ratings[name] = rating
    suggestions = (values.get("suggestions") or "").strip()[:1000] or None
    operation.session.add(SurveyResponse(
        instance_id=operation.instance.id, application_id=application.id,
        institution_id=application.institution_id, answered_at=now, answered_by=actor.id,
        suggestions=suggestions, **ratings))
    # The answers stay out of the case's timeline (the institution reads it): only that it was answered.
    record_audit(operation.session, now, actor.id, "survey_answered", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail={"process": operation.definition.key})
    return {"answered_at": now.isoformat()}


SURVEY_EFFECTS: dict[str, Effect] = {"record_survey_response": record_survey_response}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class SurveyFigures:
    """The follow-up's counts and the three rates of the supervisors' board."""

    due: int  # applications disbursed or rejected
    started: int  # surveys started
    answered: int
    satisfied: int  # answers averaging at least SATISFIED_AVERAGE

    @property
    def invitation_rate(self) -> float | None:
        return _rate(self.started, self.due)

    @property
    def response_rate(self) -> float | None:
        return _rate(self.answered, self.started)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.answered)


def survey_figures(session: Session, statuses: dict[str, int] | None = None) -> SurveyFigures:
    """Applications by status, survey instances started, answers: counted, or with `statuses` (the board's
    kept counts, engine/loans/figures.py) the first two from the kept figures."""
    surveys = sa.select(ProcessDefinition.id).where(ProcessDefinition.key == SURVEY_PROCESS_KEY)
    if statuses is not None:
        due = sum(statuses.get(status, 0) for status in SURVEYED_STATUSES)
        started = session.scalar(sa.select(sa.func.sum(ProcessFigures.started)).where(
            ProcessFigures.definition_id.in_(surveys))) or 0
    else:
        due = session.scalar(sa.select(sa.func.count()).select_from(LoanApplication).where(
            LoanApplication.status.in_(SURVEYED_STATUSES))) or 0
        started = session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance).where(
            ProcessInstance.definition_id.in_(surveys))) or 0
    total = sum((getattr(SurveyResponse, name) for name in RATINGS), sa.literal(0))
    answered, satisfied = session.execute(sa.select(
        sa.func.count(), sa.func.count(sa.case((total >= SATISFIED_AVERAGE * len(RATINGS), 1))),
    ).select_from(SurveyResponse)).one()
    return SurveyFigures(due, started, answered, satisfied)
