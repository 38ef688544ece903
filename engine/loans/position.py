"""Where an application stands in its process, for drawing it on the diagram.

Read from the projections (task and timer rows, the instance's end event) and the deployed
definition; the workflow itself is never loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.models import LoanApplication, ProcessDefinition, ProcessInstance, TaskRow, TimerRow


@dataclass(frozen=True)
class ProcessPosition:
    definition_key: str
    definition_version: int
    bpmn_xml: str
    active: list[str]  # BPMN ids of open user tasks
    completed: list[str]  # BPMN ids of user tasks done, in order
    fired_timers: list[str]  # BPMN ids of boundary timers that fired (deadlines missed, reminders sent)
    end_event: str | None  # BPMN id of the end event reached, once the process is over


def process_position(session: Session, application: LoanApplication) -> ProcessPosition | None:
    """The application's process and position, or None if it runs no process."""
    if application.instance_id is None:
        return None
    instance, definition = session.execute(
        sa.select(ProcessInstance, ProcessDefinition)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(ProcessInstance.id == application.instance_id)).one()
    tasks = session.execute(sa.select(TaskRow.bpmn_id, TaskRow.state).where(
        TaskRow.instance_id == instance.id).order_by(TaskRow.id)).all()
    fired = session.scalars(sa.select(TimerRow.bpmn_id).where(
        TimerRow.instance_id == instance.id, TimerRow.state == "fired").order_by(TimerRow.id)).all()
    return ProcessPosition(
        definition_key=definition.key, definition_version=definition.version, bpmn_xml=definition.bpmn_xml,
        active=[bpmn_id for bpmn_id, state in tasks if state == "open"],
        completed=[bpmn_id for bpmn_id, state in tasks if state == "completed"],
        fired_timers=list(dict.fromkeys(fired)),
        end_event=instance.end_event,
    )
