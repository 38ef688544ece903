"""The database tables; import them from here."""

from engine.models import append_only
from engine.models.access import ApiCredential, IdempotencyRecord, LoginFailure, UserAccount
from engine.models.base import Base, table_of
from engine.models.calendar import CalendarDay, CalendarYear
from engine.models.loans import (
    CreditAuthorization,
    Enterprise,
    Institution,
    LoanApplication,
    LoanProduct,
    SlaBreach,
)
from engine.models.notifications import Delivery, Notification, WebhookEndpoint
from engine.models.workflow import (
    AuditEvent,
    Incident,
    JobRun,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    TaskRow,
    TimerRow,
)

append_only.install(table_of(AuditEvent))

__all__ = [
    "ApiCredential",
    "IdempotencyRecord",
    "LoginFailure",
    "UserAccount",
    "AuditEvent",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "CreditAuthorization",
    "Delivery",
    "Enterprise",
    "Incident",
    "JobRun",
    "Institution",
    "LoanApplication",
    "LoanProduct",
    "Notification",
    "OutboxMessage",
    "ProcessDefinition",
    "ProcessInstance",
    "SlaBreach",
    "TaskRow",
    "TimerRow",
    "WebhookEndpoint",
    "table_of",
]
