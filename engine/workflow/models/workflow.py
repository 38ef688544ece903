"""Tables of the workflow runtime: definitions, instances, projections, audit and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class ProcessDefinition(Base):
    """One deployed version of a BPMN model; never changed once deployed."""

    __tablename__ = "process_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: Mapped[int] = pk()
    key: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    bpmn_xml: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.Text)  # why the author deployed it


class ProcessResource(Base):
    """A file deployed with a model: a form (form-js JSON) its user tasks name, or a DMN table."""

    __tablename__ = "process_resource"
    __table_args__ = (
        sa.UniqueConstraint("definition_id", "kind", "name", name="uq_process_resource_definition_kind_name"),
    )

    id: Mapped[int] = pk()
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # form | dmn
    name: Mapped[str] = mapped_column(sa.String(100))  # the form's key or the DMN file's decision ids
    content: Mapped[str] = mapped_column(sa.Text)


class ProcessInstance(Base):
    """A running or finished workflow; `state` is Spiff's JSON without the spec."""

    __tablename__ = "process_instance"

    id: Mapped[int] = pk()
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    business_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))  # running | completed
    end_event: Mapped[str | None] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.Text)
    # Optimistic lock: every save bumps it where it still has the value read (runtime.save);
    # a stale writer matches no row and gets a ConcurrencyConflict.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskRow(Base):
    """Projection of a human task, kept in step with the workflow for inboxes."""

    __tablename__ = "task"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "spiff_task_id", name="uq_task_instance_spiff_task"),
        sa.Index("ix_task_institution_state_due", "institution_id", "state", "due_at"),
        sa.Index("ix_task_role_state_due", "role", "state", "due_at"),
        sa.Index("ix_task_state_due", "state", "due_at"),  # the board's due-today/overdue counts
    )

    id: Mapped[int] = pk()
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("loan_application.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(sa.String(36))
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    lane: Mapped[str | None] = mapped_column(sa.String(100))
    # From the model's properties: who may act, the form, the banks' step name, the commitment
    # its deadline measures (docs/MODELING.md).
    role: Mapped[str | None] = mapped_column(sa.String(20))
    form_key: Mapped[str | None] = mapped_column(sa.String(64))
    api_step: Mapped[str | None] = mapped_column(sa.String(40))
    commitment: Mapped[str | None] = mapped_column(sa.String(40))
    institution_id: Mapped[int | None] = mapped_column(sa.ForeignKey("institution.id"))
    assignee: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    claimed_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(sa.String(20))  # open | completed | cancelled
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    due_provisional: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(sa.String(100))


class TimerRow(Base):
    """Projection of a waiting timer; the sweep reads only this table."""

    __tablename__ = "timer"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "spiff_task_id", name="uq_timer_instance_spiff_task"),
        sa.Index("ix_timer_state_due", "state", "due_at"),
        sa.Index("ix_timer_provisional_state", "provisional", "state"),  # the board's provisional count
    )

    id: Mapped[int] = pk()
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(sa.String(36))
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str | None] = mapped_column(sa.String(20))  # deadline | reminder | None
    sla_kind: Mapped[str | None] = mapped_column(sa.String(40))  # the commitment: accept | decision | …
    due_at: Mapped[datetime]
    provisional: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(sa.String(20))  # waiting | fired | cancelled
    fired_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only record of every action: who, what, when, status before and after."""

    __tablename__ = "audit_event"

    id: Mapped[int] = pk()
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(50))
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("loan_application.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    status_before: Mapped[str | None] = mapped_column(sa.String(20))
    status_after: Mapped[str | None] = mapped_column(sa.String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = pk()
    created_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(sa.String(100))
    # Receivers deduplicate on this key (delivery is at least once).
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Incident(Base):
    """A case whose timers or service tasks failed: parked, retried with backoff, shown to admins.

    Like Camunda's failed jobs: each failure counts down the automatic retries; when none are
    left the incident waits for an admin's retry. At most one is open per instance.
    """

    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_state_next_retry", "state", "next_retry_at"),)

    id: Mapped[int] = pk()
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # timer
    activity: Mapped[str | None] = mapped_column(sa.String(100))  # the BPMN element that failed, if known
    error_type: Mapped[str] = mapped_column(sa.String(100))
    message: Mapped[str] = mapped_column(sa.Text)
    failures: Mapped[int] = mapped_column(default=1)
    next_retry_at: Mapped[datetime | None]  # None: no automatic retry left
    state: Mapped[str] = mapped_column(sa.String(20))  # open | resolved
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))


class JobRun(Base):
    """When a job that must run once per period across every process last started (engine.workflow.jobs)."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(sa.String(100))
