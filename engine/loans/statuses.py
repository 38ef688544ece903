"""Application statuses (DOMAIN.md). Which step may be taken when is the model's to say (its tasks)."""

from __future__ import annotations

SUBMITTED = "submitted"  # 待受理
ACCEPTED = "accepted"  # 已受理
APPROVED = "approved"  # 已授信
REJECTED = "rejected"  # 已拒绝
DISBURSED = "disbursed"  # 已放款
SETTLED = "settled"  # 已结清
WITHDRAWN = "withdrawn"  # 已撤销

ALL_STATUSES = (SUBMITTED, ACCEPTED, APPROVED, REJECTED, DISBURSED, SETTLED, WITHDRAWN)
OPEN_STATUSES = (SUBMITTED, ACCEPTED, APPROVED, DISBURSED)
