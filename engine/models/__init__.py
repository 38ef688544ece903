"""Every table of the platform (the runtime's and the domain's); the domain imports them from here."""

from engine.models.access import ApiCredential, IdempotencyRecord, LoginFailure, UserAccount
from engine.models.figures import BreachFigures, DailyFigures, DecisionDays, ProcessFigures
from engine.models.loans import (
    CreditAuthorization,
    Enterprise,
    Institution,
    LoanApplication,
    LoanProduct,
    SlaBreach,
)
from engine.models.notifications import Delivery, Notification, WebhookEndpoint
from engine.models.objections import FinancingProblem, Objection, RecordCorrection
from engine.models.registration import CreditCommitment, IdentityCheck, PendingRegistration
from engine.models.reports import ProducedReport
from engine.models.satisfaction import SurveyResponse
from engine.workflow.models import (
    AuditEvent,
    Base,
    CalendarDay,
    CalendarYear,
    Incident,
    JobRun,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    ProcessResource,
    ProcessStart,
    TaskRow,
    TimerRow,
    table_of,
)

__all__ = [
    "ApiCredential",
    "IdempotencyRecord",
    "LoginFailure",
    "UserAccount",
    "AuditEvent",
    "BreachFigures",
    "DailyFigures",
    "DecisionDays",
    "ProcessFigures",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "CreditAuthorization",
    "CreditCommitment",
    "IdentityCheck",
    "PendingRegistration",
    "Delivery",
    "Enterprise",
    "FinancingProblem",
    "Incident",
    "JobRun",
    "Institution",
    "LoanApplication",
    "LoanProduct",
    "Notification",
    "Objection",
    "OutboxMessage",
    "ProcessDefinition",
    "ProcessInstance", "ProcessResource", "ProcessStart",
    "ProducedReport",
    "RecordCorrection",
    "SlaBreach",
    "SurveyResponse",
    "TaskRow",
    "TimerRow",
    "WebhookEndpoint",
    "table_of",
]
