"""Who acts: the engine's view of a user or a bank's system, and what each may touch."""

from __future__ import annotations

from dataclasses import dataclass

from engine.models import LoanApplication
from engine.workflow.errors import NotFound

ENTERPRISE = "enterprise"
OFFICER = "officer"
INSTITUTION_ADMIN = "institution_admin"
INSTITUTION_SYSTEM = "institution_system"  # a bank's own system over the API (银行直连)
SUPERVISOR = "supervisor"
SYSTEM = "system"

INSTITUTION_ROLES = frozenset({OFFICER, INSTITUTION_ADMIN, INSTITUTION_SYSTEM})


@dataclass(frozen=True)
class Actor:
    """A user or system taking a step; `id` is what the audit trail shows."""

    id: str
    role: str
    institution_id: int | None = None
    enterprise_id: int | None = None


SYSTEM_ACTOR = Actor("system", SYSTEM)
# One text for an application that does not exist and one the actor may not see, so that the
# answer tells nothing (and never an internal id).
APPLICATION_NOT_FOUND = "No such application."


def ensure_institution_may_act(actor: Actor, application: LoanApplication) -> None:
    """Only the application's own institution acts on it; anyone else is told it does not exist."""
    if actor.role not in INSTITUTION_ROLES or actor.institution_id != application.institution_id:
        raise NotFound(APPLICATION_NOT_FOUND)


def ensure_enterprise_owns(actor: Actor, application: LoanApplication) -> None:
    if actor.role != ENTERPRISE or actor.enterprise_id != application.enterprise_id:
        raise NotFound(APPLICATION_NOT_FOUND)


def ensure_may_read(actor: Actor, application: LoanApplication) -> None:
    """Supervisors read everything; parties read their own applications."""
    if actor.role in (SUPERVISOR, SYSTEM):
        return
    if actor.role == ENTERPRISE:
        ensure_enterprise_owns(actor, application)
    else:
        ensure_institution_may_act(actor, application)
