"""The database tables; import them from here."""

from engine.models.base import Base
from engine.models.calendar import CalendarDay, CalendarYear
from engine.models.loans import (
    CreditAuthorization,
    Enterprise,
    Institution,
    LoanApplication,
    LoanProduct,
    SlaBreach,
)
from engine.models.workflow import (
    AuditEvent,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    TaskRow,
    TimerRow,
)

__all__ = [
    "AuditEvent",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "CreditAuthorization",
    "Enterprise",
    "Institution",
    "LoanApplication",
    "LoanProduct",
    "OutboxMessage",
    "ProcessDefinition",
    "ProcessInstance",
    "SlaBreach",
    "TaskRow",
    "TimerRow",
]
