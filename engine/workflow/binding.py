"""What ties a process to the platform's domain: the case behind an instance, its service-task
operators, the named operations its user tasks call, and hooks around a step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engine.workflow import adapter as spiff
from engine.workflow.models import ProcessInstance

if TYPE_CHECKING:
    from engine.workflow.runtime import InstanceOperation


@dataclass(frozen=True)
class InstanceContext:
    """What the projections need to know of the business object behind an instance.

    `case_id` is the domain's record the instance runs for (kept in `task.application_id`),
    `tenant_id` the institution whose officers act on it (`task.institution_id`), `record` that record
    as the binding read it (held, so the operation's session need not read it again; may be None),
    `prefetched` what else the binding read for a batch of cases (the sweep), by the binding's own names.
    """

    case_id: int | None = None
    tenant_id: int | None = None
    record: Any = field(default=None, compare=False, repr=False)
    prefetched: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class ProcessBinding(Protocol):
    """Ties a process key to its domain: the context of an instance and its service tasks."""

    def context(self, session: Session, instance: ProcessInstance) -> InstanceContext: ...

    def contexts(self, session: Session, instances: list[ProcessInstance]) -> dict[int, InstanceContext]:
        """The contexts of many instances (by instance id) in a constant number of queries (the sweep)."""
        ...

    def services(self, operation: InstanceOperation) -> dict[str, spiff.ServiceHandler]: ...

    def effects(self, operation: InstanceOperation) -> dict[str, Any]:
        """Named operations a user task's `onComplete` property may call (engine.workflow.tasks)."""
        ...

    def operation_names(self) -> set[str]:
        """Every name its `services` and `effects` answer to (checked when a model is deployed)."""
        ...

    def task_completed(self, operation: InstanceOperation, task: Any) -> None:
        """Told after a user task (its `task` row) completed, before the operation saves."""
        ...

    def after_save(self, operation: InstanceOperation) -> None: ...


class UnboundProcess:
    """A process nobody bound: no case, no operators, no effects."""

    def context(self, session: Session, instance: ProcessInstance) -> InstanceContext:
        return InstanceContext()

    def contexts(self, session: Session, instances: list[ProcessInstance]) -> dict[int, InstanceContext]:
        return {instance.id: InstanceContext() for instance in instances}

    def services(self, operation: InstanceOperation) -> dict[str, spiff.ServiceHandler]:
        return {}

    def effects(self, operation: InstanceOperation) -> dict[str, Any]:
        return {}

    def operation_names(self) -> set[str]:
        return set()

    def task_completed(self, operation: InstanceOperation, task: Any) -> None:
        return None

    def after_save(self, operation: InstanceOperation) -> None:
        return None
