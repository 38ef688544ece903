"""Objections (异议申诉) and corrections: the named operations of bpmn/objection.bpmn and what pages read.

An enterprise objects to one value its institution reported about its application (FIELDS): the
process `objection` is started for the application (business key = its reference, so the case is the
application and the institution's task reaches the handling institution only). Its operations:
- `open_objection` (service task, first): checks the field was reported and has no open objection,
  keeps the objection (the value as it stood, the reason) and works out the answer's due instant:
  征信业管理条例 art. 25, "自收到异议之日起20日内" — the day of receipt not counted (Civil Code
  art. 201), the last day ending at 24:00 Beijing time; the number of days is the model's parameter;
- `answer_objection` (the institution's `onComplete`): uphold with an explanation, or correct the value
  with a reason — the application takes the new value, `record_correction` keeps old and new;
  the enterprise is told either way (`objection.answered`);
- `escalate_objection` (service task on the deadline's branch): marks it escalated and tells the
  supervisors (`objection.escalated`), whose 督办 task the model opens next;
- `record_objection_supervision` (the supervisor's `onComplete`): the 督办 note, on record and sent
  to the institution (`objection.supervised`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import statuses
from engine.loans.operations import Effect, application_of_operation
from engine.models import LoanApplication, Objection, RecordCorrection, TaskRow
from engine.workflow.adapter import ServiceHandler, SpiffTask, start_event_properties, task_bpmn_id
from engine.workflow.definitions import latest_definition
from engine.workflow.errors import ModelError, ValidationFailed
from engine.workflow.forms import FormDefinition
from engine.workflow.journal import enqueue, record_audit
from engine.workflow.runtime import Engine, InstanceOperation
from engine.workflow.working_days import SHANGHAI

OBJECTION_PROCESS_KEY = "objection"
SYSTEM = "system:timer"
OPEN, UPHELD, CORRECTED = "open", "upheld", "corrected"
DEFAULT_ANSWER_DAYS = 20  # 征信业管理条例 art. 25


@dataclass(frozen=True)
class Field:
    """A reported value an enterprise may object to: its column, kind, names and whether it can be corrected."""

    column: str
    kind: str  # decision | money | rate | months | date
    name: str
    name_en: str


FIELDS: dict[str, Field] = {
    "decision": Field("status", "decision", "审贷结论", "Credit decision"),
    "approved_amount": Field("approved_amount", "money", "授信金额", "Credit amount"),
    "annual_rate": Field("annual_rate", "rate", "年利率", "Annual rate"),
    "approved_term_months": Field("approved_term_months", "months", "授信期限（月）", "Term (months)"),
    "disbursed_amount": Field("disbursed_amount", "money", "放款金额", "Amount disbursed"),
    "disbursed_on": Field("disbursed_on", "date", "放款日期", "Disbursed on"),
    "settled_on": Field("settled_on", "date", "结清日期", "Settlement date"),
}
DECISION_TEXT = {"approved": ("批准授信", "Approved"), "rejected": ("拒绝", "Rejected")}
DECIDED = (statuses.APPROVED, statuses.REJECTED, statuses.DISBURSED, statuses.SETTLED)


def reported_value(application: LoanApplication, field: str) -> str | None:
    """The value the institution reported, as text (None: nothing reported yet)."""
    spec = FIELDS[field]
    if spec.kind == "decision":
        if application.status not in DECIDED:
            return None
        return "rejected" if application.status == statuses.REJECTED else "approved"
    value = getattr(application, spec.column)
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def objectionable(application: LoanApplication) -> list[tuple[str, str]]:
    """The fields of an application that carry a reported value, with the value."""
    found = [(field, reported_value(application, field)) for field in FIELDS]
    return [(field, value) for field, value in found if value is not None]


def _refuse(field: str, code: str, message: str, **params: Any) -> ValidationFailed:
    return ValidationFailed({field: [message]}, problems={field: [(code, params)]})


def check_objection(session: Session, application: LoanApplication, field: str) -> None:
    """Refuse a field that was not reported, or that has an objection open already."""
    if field not in FIELDS or reported_value(application, field) is None:
        raise _refuse("field", "not_an_option", "Not one of the choices.")
    if session.scalar(sa.select(Objection.id).where(Objection.application_id == application.id,
                                                    Objection.field == field, Objection.state == OPEN)):
        raise _refuse("field", "already_disputed", "An objection to this value is open already.")


def answer_due(filed_at: datetime, days: int) -> datetime:
    """24:00 Beijing time of the `days`-th day after the day of filing (that day not counted)."""
    last_day = filed_at.astimezone(SHANGHAI).date() + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(0), SHANGHAI)


def open_objection(operation: InstanceOperation, task: SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
    """Keep the objection the start form gave; return what the institution's task shows and its due instant."""
    application, now = application_of_operation(operation), operation.now
    field, reason = params.get("field"), str(params.get("reason") or "").strip()
    days = params.get("answer_days", DEFAULT_ANSWER_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise ModelError(f"open_objection in {task_bpmn_id(task)} needs answer_days, 1 to 366 "
                         f"(found {days!r})", activity=task_bpmn_id(task))
    if not isinstance(field, str):
        raise _refuse("field", "required", "Missing data for required field.")
    check_objection(operation.session, application, field)
    if not reason:
        raise _refuse("reason", "required", "Missing data for required field.")
    filed_by = str(params.get("filed_by") or getattr(operation.actor, "id", None) or "")
    due = answer_due(now, days)
    value = reported_value(application, field)
    objection = Objection(instance_id=operation.instance.id, application_id=application.id,
                          institution_id=application.institution_id, enterprise_id=application.enterprise_id,
                          field=field, reported_value=value, reason=reason[:1000], filed_at=now,
                          filed_by=filed_by, due_at=due, state=OPEN)
    operation.session.add(objection)
    operation.session.flush()
    record_audit(operation.session, now, filed_by, "objection_filed", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail={"field": field, "value": value})
    enqueue(operation.session, now, "objection.filed", {
        "application": application.reference, "institution_id": application.institution_id,
        "field": field, "due_at": due.isoformat()})
    spec = FIELDS[field]
    return {"objection_id": objection.id, "field": field, "field_name": spec.name, "field_name_en": spec.name_en,
            "reported_value": value, "reported_text": DECISION_TEXT.get(value or "", (value,))[0],
            "reported_text_en": DECISION_TEXT.get(value or "", (value, value))[1], "answer_due": due.isoformat()}


def _objection_of(operation: InstanceOperation, task_id: str) -> Objection:
    objection = operation.session.scalar(sa.select(Objection).where(Objection.instance_id == operation.instance.id))
    if objection is None:
        raise ModelError("This process has no objection on record (open_objection must run first)",
                         activity=task_id)
    return objection


def parse_value(kind: str, text: str, now: datetime) -> Any:
    """A corrected value read as its kind; refusals as the form's problem codes (field `new_value`)."""
    text = (text or "").strip()
    if not text:
        raise _refuse("new_value", "required", "Missing data for required field.")
    if kind == "date":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _refuse("new_value", "not_a_date", "Not a valid date (YYYY-MM-DD).") from None
        if day > now.astimezone(SHANGHAI).date():
            raise _refuse("new_value", "in_future", "Cannot be in the future.")
        return day
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise _refuse("new_value", "not_a_number", "Not a valid number.") from None
    if not number.is_finite():
        raise _refuse("new_value", "not_a_number", "Not a valid number.")
    places, low, high = {"money": (2, Decimal("0.01"), Decimal("100000000000")),
                         "rate": (4, Decimal("0.0001"), Decimal("36")),
                         "months": (0, Decimal(1), Decimal(600))}[kind]
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > places:
        raise _refuse("new_value", "decimal_places", f"At most {places} decimal places.", max=places)
    if number < low:
        raise _refuse("new_value", "min", f"Must be at least {low}.", min=str(low))
    if number > high:
        raise _refuse("new_value", "max", f"Must be at most {high}.", max=str(high))
    return int(number) if kind == "months" else number.quantize(Decimal(1).scaleb(-places))


def answer_objection(operation: InstanceOperation, task: TaskRow, values: dict[str, Any]) -> dict[str, Any]:
    """答复异议: uphold the record with an explanation, or correct the value with a reason (old value kept)."""
    application, now, actor = application_of_operation(operation), operation.now, operation.actor
    objection = _objection_of(operation, task.bpmn_id)
    explanation = str(values.get("explanation") or "").strip()[:1000]
    outcome = values.get("outcome")
    if outcome not in ("uphold", "correct"):
        raise ModelError(f"answer_objection needs the form field 'outcome' (uphold or correct), found {outcome!r}",
                         activity=task.bpmn_id)
    spec = FIELDS[objection.field]
    detail: dict[str, Any] = {"field": objection.field, "outcome": outcome}
    if outcome == "correct":
        if spec.kind == "decision":
            raise _refuse("outcome", "not_correctable", "A credit decision cannot be corrected here.")
        new = parse_value(spec.kind, str(values.get("new_value") or ""), now)
        old = reported_value(application, objection.field)
        new_text = new.isoformat() if isinstance(new, date) else str(new)
        if new_text == old:
            raise _refuse("new_value", "unchanged", "The new value is the value on record.")
        setattr(application, spec.column, new)
        application.updated_at = now
        operation.session.add(RecordCorrection(
            application_id=application.id, objection_id=objection.id, field=objection.field, old_value=old,
            new_value=new_text, reason=explanation, corrected_at=now, corrected_by=actor.id))
        record_audit(operation.session, now, actor.id, "record_corrected", application_id=application.id,
                     instance_id=operation.instance.id, status_before=application.status,
                     status_after=application.status,
                     detail={"field": objection.field, "old": old, "new": new_text, "reason": explanation})
        detail.update(old=old, new=new_text)
    objection.state = CORRECTED if outcome == "correct" else UPHELD
    objection.answered_at, objection.answered_by, objection.explanation = now, actor.id, explanation
    record_audit(operation.session, now, actor.id, "objection_answered", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail=detail)
    enqueue(operation.session, now, "objection.answered", {
        "application": application.reference, "enterprise_id": application.enterprise_id,
        "field": objection.field, "outcome": outcome})
    return {"objection_outcome": outcome, "answered_at": now.isoformat()}


def escalate_objection(operation: InstanceOperation, task: SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
    """The answer is late: on record, and the supervisors told (督办)."""
    application, now = application_of_operation(operation), operation.now
    objection = _objection_of(operation, task_bpmn_id(task))
    if objection.escalated_at is not None:
        return {"escalated": False}
    objection.escalated_at = now
    record_audit(operation.session, now, SYSTEM, "objection_escalated", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail={"field": objection.field})
    enqueue(operation.session, now, "objection.escalated", {
        "application": application.reference, "field": objection.field,
        "due_at": objection.due_at.isoformat() if objection.due_at else None})
    return {"escalated": True}


def record_objection_supervision(operation: InstanceOperation, task: TaskRow,
                                 values: dict[str, Any]) -> dict[str, Any]:
    """督办: the supervisor's note on the late answer, on record and sent to the institution."""
    application, now, actor = application_of_operation(operation), operation.now, operation.actor
    note = str(values.get("supervision_note") or "").strip()[:1000]
    record_audit(operation.session, now, actor.id, "objection_supervised", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail={"note": note})
    enqueue(operation.session, now, "objection.supervised", {
        "application": application.reference, "institution_id": application.institution_id})
    return {"supervised_at": now.isoformat()}


OBJECTION_EFFECTS: dict[str, Effect] = {
    "answer_objection": answer_objection, "record_objection_supervision": record_objection_supervision}
OBJECTION_OPERATORS = ("open_objection", "escalate_objection")


def objection_services(operation: InstanceOperation) -> dict[str, ServiceHandler]:
    """The objection's service-task operators bound to one operation (the binding's `services`)."""
    return {"open_objection": lambda task, params: open_objection(operation, task, params),
            "escalate_objection": lambda task, params: escalate_objection(operation, task, params)}


# Read side -------------------------------------------------------------------------------------

def open_objections(session: Session, application_id: int) -> dict[str, Objection]:
    """The application's values under an open objection, by field (有异议 where they are shown)."""
    return {objection.field: objection for objection in session.scalars(sa.select(Objection).where(
        Objection.application_id == application_id, Objection.state == OPEN))}


def corrections_of(session: Session, application_id: int) -> list[RecordCorrection]:
    """Every correction of the application's reported values, oldest first (the history kept)."""
    return list(session.scalars(sa.select(RecordCorrection).where(RecordCorrection.application_id == application_id)
                                .order_by(RecordCorrection.corrected_at, RecordCorrection.id)))


@dataclass(frozen=True)
class ObjectionLine:
    objection: Objection
    reference: str


def objections_of_enterprise(session: Session, enterprise_id: int, limit: int = 200) -> list[ObjectionLine]:
    """The enterprise's objections, newest first, with their applications' references."""
    rows = session.execute(sa.select(Objection, LoanApplication.reference)
                           .join(LoanApplication, LoanApplication.id == Objection.application_id)
                           .where(Objection.enterprise_id == enterprise_id)
                           .order_by(Objection.filed_at.desc(), Objection.id.desc()).limit(limit))
    return [ObjectionLine(objection, reference) for objection, reference in rows]


def start_form_of(engine: Engine, key: str) -> FormDefinition | None:
    """The start form of the latest version of process `key` (None: not deployed, or no start form)."""
    with engine.reading() as session:
        definition = latest_definition(session, key, required=False)
        if definition is None:
            return None
        form_key = start_event_properties(engine.specs.get(definition, session)).get("form")
        form: FormDefinition | None = engine.forms(session, definition).get(form_key) if form_key else None
        return form


def enterprise_marks(session: Session, enterprise_id: int) -> tuple[dict[str, dict[str, Objection]],
                                                                      list[tuple[str, RecordCorrection]]]:
    """An enterprise's open objections by application reference and field, and its corrections (newest first)."""
    marks: dict[str, dict[str, Objection]] = {}
    for objection, reference in session.execute(sa.select(Objection, LoanApplication.reference)
                                                .join(LoanApplication, LoanApplication.id == Objection.application_id)
                                                .where(Objection.enterprise_id == enterprise_id,
                                                       Objection.state == OPEN)):
        marks.setdefault(reference, {})[objection.field] = objection
    corrections = [(reference, correction) for correction, reference in session.execute(
        sa.select(RecordCorrection, LoanApplication.reference)
        .join(LoanApplication, LoanApplication.id == RecordCorrection.application_id)
        .where(LoanApplication.enterprise_id == enterprise_id)
        .order_by(RecordCorrection.corrected_at.desc(), RecordCorrection.id.desc()).limit(200))]
    return marks, corrections
