"""Whether each step of an application was taken on time, from its deadlines and the breach ledger."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.models import LoanApplication, SlaBreach

# The audit actions that complete a step with a deadline, and the deadline's kind.
STEP_ACTIONS = {"accepted": "accept", "approved": "decision", "rejected": "decision"}


@dataclass(frozen=True)
class Punctuality:
    on_time: bool
    working_days_late: int | None  # set when late


def step_punctuality(session: Session, application: LoanApplication) -> dict[str, Punctuality]:
    """For each step taken that had a deadline (by audit action), on time or how late."""
    breaches = {kind: late for kind, late in session.execute(
        sa.select(SlaBreach.kind, SlaBreach.late_working_days).where(
            SlaBreach.application_id == application.id, SlaBreach.resolution == "acted")).all()}
    taken = {"accept": application.accepted_at, "decision": application.decided_at}
    result: dict[str, Punctuality] = {}
    for action, kind in STEP_ACTIONS.items():
        if taken[kind] is None:
            continue
        result[action] = Punctuality(False, breaches[kind]) if kind in breaches else Punctuality(True, None)
    return result
