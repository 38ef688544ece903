"""Application statuses (DOMAIN.md) and which step may be taken from which status."""

from __future__ import annotations

from dataclasses import dataclass

SUBMITTED = "submitted"  # 待受理
ACCEPTED = "accepted"  # 已受理
APPROVED = "approved"  # 已授信
REJECTED = "rejected"  # 已拒绝
DISBURSED = "disbursed"  # 已放款
SETTLED = "settled"  # 已结清
WITHDRAWN = "withdrawn"  # 已撤销

ALL_STATUSES = (SUBMITTED, ACCEPTED, APPROVED, REJECTED, DISBURSED, SETTLED, WITHDRAWN)
OPEN_STATUSES = (SUBMITTED, ACCEPTED, APPROVED, DISBURSED)


@dataclass(frozen=True)
class Step:
    """A step of the lifecycle: the BPMN task it completes and the statuses around it."""

    name: str
    bpmn_task: str | None
    allowed_from: tuple[str, ...]
    # Statuses in which the step has evidently been taken already (a retry or a race).
    taken_in: tuple[str, ...]


ACCEPT = Step("accept", "Accept", (SUBMITTED,), (ACCEPTED, APPROVED, REJECTED, DISBURSED, SETTLED))
DECIDE = Step("decide", "Decide", (ACCEPTED,), (APPROVED, REJECTED, DISBURSED, SETTLED))
DISBURSE = Step("disburse", "Disburse", (APPROVED,), (DISBURSED, SETTLED))
SETTLE = Step("settle", "Settle", (DISBURSED,), (SETTLED,))
WITHDRAW = Step("withdraw", None, (SUBMITTED, ACCEPTED), (WITHDRAWN,))
