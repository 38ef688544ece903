"""The ledger of processes started once per case by the `start_process` operator."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class ProcessStart(Base):
    """One process started for one case (business key) by a model's `start_process` service task.

    The unique (business key, process key) pair is the claim that makes the operator idempotent:
    a second start for the same case, even by a concurrent transaction, inserts nothing.
    """

    __tablename__ = "process_start"
    __table_args__ = (
        sa.UniqueConstraint("business_key", "process_key", name="uq_process_start_business_key_process_key"),
    )

    id: Mapped[int] = pk()
    business_key: Mapped[str] = mapped_column(sa.String(64))
    process_key: Mapped[str] = mapped_column(sa.String(100))
    # The instance started (set in the claiming transaction, right after the claim).
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    # The instance whose service task asked for it.
    parent_instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(sa.String(100))
