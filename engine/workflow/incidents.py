"""Incidents: cases whose timers could not fire, parked so that they harm no other case.

A failure of model code (a script that raises, runs out of its budget, or leaves data that cannot
be saved) while the sweep fires a case's timers parks those timers as `failed` and opens an
incident with the error. Like Camunda's job retries, the incident is retried automatically
`retries` times with exponential backoff (`backoff_seconds`, doubled each time); after that it
waits for an admin's retry. A retry that succeeds resolves the incident.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.adapter import raised_by_model_code
from engine.workflow.errors import EngineError, NotFound
from engine.workflow.journal import record_audit
from engine.workflow.models import Incident, ProcessDefinition, ProcessInstance, TimerRow, table_of

if TYPE_CHECKING:
    from engine.workflow.binding import InstanceContext
    from engine.workflow.runtime import Engine

log = logging.getLogger(__name__)
MESSAGE_LIMIT = 2000
_TIMER = table_of(TimerRow)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed case is tried again without an admin."""

    retries: int = 3
    backoff_seconds: int = 60

    def next_retry(self, now: datetime, failures: int) -> datetime | None:
        if failures > self.retries:
            return None
        return now + timedelta(seconds=self.backoff_seconds * 2 ** (failures - 1))


def describe(error: BaseException) -> tuple[str, str, str | None]:
    """(error type, message, failing BPMN element) for the incident list; never a stack trace."""
    activity = None
    task_spec = getattr(error, "task_spec", None)
    if task_spec is not None:
        activity = getattr(task_spec, "bpmn_id", None) or getattr(task_spec, "name", None)
    if isinstance(error, EngineError):
        message = error.message
        activity = error.context.get("activity") or activity
    else:
        message = "".join(traceback.format_exception_only(type(error), error)).strip()
    return type(error).__name__, message[:MESSAGE_LIMIT], activity


def park_failed_case(session: Session, engine: Engine, instance_id: int, timer_ids: list[int],
                     error: BaseException) -> Incident:
    """Mark the case's due timers failed and open (or count up) its incident, in `session`."""
    now = engine.clock.now()
    if timer_ids:
        session.execute(sa.update(_TIMER).where(_TIMER.c.id.in_(timer_ids)).values(state="failed"))
    error_type, message, activity = describe(error)
    incident = session.scalars(sa.select(Incident).where(
        Incident.instance_id == instance_id, Incident.state == "open")).first()
    if incident is None:
        incident = Incident(instance_id=instance_id, kind="timer", activity=activity, error_type=error_type,
                            message=message, failures=0, state="open", created_at=now, updated_at=now)
        session.add(incident)
    incident.failures += 1
    incident.error_type, incident.message, incident.updated_at = error_type, message, now
    incident.activity = activity or incident.activity
    incident.next_retry_at = engine.retry_policy.next_retry(now, incident.failures)
    session.flush()
    log.error("Incident %s: timers of instance %s could not fire (%s: %s)",
              incident.id, instance_id, error_type, message)
    return incident


def fire_case(session: Session, engine: Engine, instance: ProcessInstance, actor: str,
              context: InstanceContext | None = None, timer_provisional: dict[str, bool] | None = None) -> None:
    """Open a locked case, fire its due timers and save it (no isolation: the caller provides it)."""
    operation = engine.open(session, instance, context)
    operation.timer_provisional = timer_provisional or {}
    operation.fire_due_timers()
    operation.save(actor)


def fire_in_savepoint(session: Session, engine: Engine, instance: ProcessInstance, timer_ids: list[int],
                      actor: str, context: InstanceContext | None = None,
                      timer_provisional: dict[str, bool] | None = None) -> BaseException | None:
    """Fire a locked case's due timers in a savepoint; on a model failure roll it back and park it.

    Returns the error that parked the case, or None. Database errors go up (the batch is retried).
    """
    instance_id = instance.id
    # What operations saved before the savepoint; what it saves (the case, and any instance its
    # service tasks started) must not reach the live cache if it is rolled back.
    pending = session.info["engine_pending_live"]
    pending_before = dict(pending)
    savepoint = session.begin_nested()
    if engine.on_case is not None:
        engine.on_case(instance_id)
    try:
        fire_case(session, engine, instance, actor, context, timer_provisional)
        savepoint.commit()
        return None
    except sa.exc.DBAPIError:
        raise
    except BaseException as error:  # noqa: BLE001 - a broken or hostile model must harm only its own case
        if not raised_by_model_code(error):
            raise
        savepoint.rollback()
        pending.clear()
        pending.update(pending_before)
        pending.pop(instance_id, None)
        park_failed_case(session, engine, instance_id, timer_ids, error)
        return error
    finally:
        if engine.on_case is not None:
            engine.on_case(None)


def retry_incident(engine: Engine, incident_id: int, actor: str) -> bool:
    """Fire a parked case's timers again now; return True if the incident is resolved."""
    with engine.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None or incident.state != "open":
            raise NotFound("No such open incident.")
        instance = engine.lock_instance(session, incident.instance_id)
        if instance is None:
            raise NotFound("No such open incident.")
        session.refresh(incident)
        if incident.state != "open":
            return True  # resolved by someone else meanwhile
        failed = list(session.scalars(sa.select(TimerRow.id).where(
            TimerRow.instance_id == instance.id, TimerRow.state == "failed")))
        session.execute(sa.update(_TIMER).where(_TIMER.c.id.in_(failed)).values(state="waiting"))
        error = None
        if instance.status == "running":
            error = fire_in_savepoint(session, engine, instance, failed, actor)
        now = engine.clock.now()
        # Who retried a parked case, and with what result, is on record like every other action.
        record_audit(session, now, actor, "incident_retried", instance_id=instance.id,
                     detail={"incident": incident.id, "resolved": error is None})
        if error is None:
            incident.state, incident.resolved_at, incident.resolved_by = "resolved", now, actor
            incident.updated_at, incident.next_retry_at = now, None
            return True
        return False


def retry_due_incidents(engine: Engine, actor: str, limit: int = 100) -> int:
    """Retry the incidents whose automatic retry time has come; return how many were tried."""
    with engine.reading() as session:
        due = list(session.scalars(sa.select(Incident.id).where(
            Incident.state == "open", Incident.next_retry_at <= engine.clock.now()
        ).order_by(Incident.next_retry_at).limit(limit)))
    for incident_id in due:
        try:
            retry_incident(engine, incident_id, actor)
        except NotFound:
            continue  # resolved meanwhile
    return len(due)


def open_incidents(session: Session, limit: int = 200) -> list[Incident]:
    """The open incidents, newest change first (for the admins' list)."""
    return list(session.scalars(sa.select(Incident).where(Incident.state == "open")
                                .order_by(Incident.updated_at.desc()).limit(limit)))


@dataclass(frozen=True)
class IncidentSummary:
    """An incident with what an admin needs to find its case: business key (the application
    reference) and the process version the case runs on."""

    id: int
    instance_id: int
    business_key: str
    process_key: str
    process_version: int
    kind: str
    activity: str | None
    error_type: str
    message: str
    failures: int
    next_retry_at: datetime | None
    state: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


def _summaries() -> sa.Select:
    return (sa.select(Incident, ProcessInstance.business_key, ProcessDefinition.key, ProcessDefinition.version)
            .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))


def _summary(incident: Incident, business_key: str, process_key: str, process_version: int) -> IncidentSummary:
    return IncidentSummary(
        id=incident.id, instance_id=incident.instance_id, business_key=business_key, process_key=process_key,
        process_version=process_version, kind=incident.kind, activity=incident.activity,
        error_type=incident.error_type, message=incident.message, failures=incident.failures,
        next_retry_at=incident.next_retry_at, state=incident.state, created_at=incident.created_at,
        updated_at=incident.updated_at, resolved_at=incident.resolved_at, resolved_by=incident.resolved_by)


def open_incident_summaries(session: Session, limit: int = 200) -> list[IncidentSummary]:
    """The open incidents with their case's business key and process version, newest change first."""
    query = _summaries().where(Incident.state == "open").order_by(Incident.updated_at.desc(), Incident.id.desc())
    return [_summary(*row) for row in session.execute(query.limit(limit))]


def incident_summary(session: Session, incident_id: int) -> IncidentSummary | None:
    """One incident, open or resolved, with its case's business key and process version."""
    row = session.execute(_summaries().where(Incident.id == incident_id)).first()
    return _summary(*row) if row is not None else None
