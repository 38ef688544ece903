"""The runtime's tables: definitions, instances, task and timer projections, audit, outbox,
incidents, once-per-period jobs and the working-day calendar."""

from engine.workflow.models import append_only
from engine.workflow.models.base import Base, table_of
from engine.workflow.models.calendar import CalendarDay, CalendarYear
from engine.workflow.models.starts import ProcessStart
from engine.workflow.models.workflow import (
    AuditEvent,
    Incident,
    JobRun,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    ProcessResource,
    TaskRow,
    TimerRow,
)

append_only.install(table_of(AuditEvent))

__all__ = [
    "AuditEvent", "Base", "CalendarDay", "CalendarYear", "Incident", "JobRun", "OutboxMessage",
    "ProcessDefinition", "ProcessInstance", "ProcessResource", "ProcessStart", "TaskRow", "TimerRow",
    "table_of",
]
