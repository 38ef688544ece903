"""The workflow runtime: one engine object, one operation per instance per transaction.

An operation loads an instance (from the live-workflow cache when its version matches, else
from JSON), runs it, writes the state back under an optimistic lock and brings the `task` and
`timer` projections in step, all inside the caller's transaction.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from typing import Any, Literal, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from engine.workflow import adapter as spiff
from engine.workflow.binding import InstanceContext, ProcessBinding, UnboundProcess
from engine.workflow.calendar_store import CalendarProvider
from engine.workflow.clock import Clock, SystemClock
from engine.workflow.database import transaction
from engine.workflow.definitions import LATEST_DEFINITION_ID, SpecCache, forms_of
from engine.workflow.errors import ConcurrencyConflict, ModelError, NotFound
from engine.workflow.incidents import RetryPolicy
from engine.workflow.instance_lock import BY_INSTANCE_ID, InstanceLock
from engine.workflow.models import ProcessDefinition, ProcessInstance, table_of
from engine.workflow.projections import Snapshot, sync_projections
from engine.workflow.working_days import WorkingDayCalendar

T = TypeVar("T")

# The transaction this thread is inside, per engine: an inner `transaction()` joins it, so that
# an API request can claim its Idempotency-Key, take the step and keep the response in one commit.
_CURRENT: ContextVar[tuple[Engine, Session] | None] = ContextVar("engine_transaction", default=None)

RETRY_ATTEMPTS = 4
# About ten years: no commitment runs longer, and the helper runs outside the script's budgets.
MAX_WORKING_DAYS = 2_500


def parse_instant(value: str | datetime) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        raise ModelError(f"Times given to add_working_days need an offset: {value!r}")
    return instant


class Engine:
    """The assembled engine: database, clock, caches and the processes it knows."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock | None = None,
        script_line_budget: int = 10_000,
        retry_policy: RetryPolicy | None = None,
        script_limits: dict[str, Any] | None = None,
        live_cache_size: int = 1_000,
    ) -> None:
        self.session_factory = session_factory
        self.clock: Clock = clock or SystemClock()
        self.script_line_budget = script_line_budget
        self.retry_policy = retry_policy or RetryPolicy()
        # cpu_seconds, max_sequence_length, memory_budget: see engine.workflow.sandbox.RestrictedEnvironment.
        self.script_limits = dict(script_limits or {})
        # Told the instance id before a case's timers fire and None after (engine.platform.worker's watchdog).
        self.on_case: Callable[[int | None], None] | None = None
        self.specs = SpecCache()
        self.calendars = CalendarProvider()
        self.bindings: dict[str, ProcessBinding] = {}
        # The binding of every process not bound by key (the platform installs its own).
        self.default_binding: ProcessBinding = UnboundProcess()
        # Who sees and acts on which task (engine.workflow.tasks.TaskPolicy; the platform installs it).
        self.task_policy: Any = None
        self._forms: dict[int, dict[str, Any]] = {}
        # Live workflows of recently used running cases, least recently used first (bounded).
        self._live: OrderedDict[int, tuple[int, Any, Snapshot]] = OrderedDict()
        self.live_cache_size = live_cache_size
        self._definitions: dict[int, ProcessDefinition] = {}
        self._live_lock = Lock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work; inside another of this engine's transactions, that one is joined."""
        current = _CURRENT.get()
        if current is not None and current[0] is self:
            yield current[1]
            return
        with transaction(self.session_factory) as session:
            session.info["engine_pending_live"] = {}
            token = _CURRENT.set((self, session))
            try:
                yield session
            finally:
                _CURRENT.reset(token)
            # Reached only when the body succeeded; commit happens on leaving `transaction`.
            pending = session.info.pop("engine_pending_live")
        if pending and self.live_cache_size > 0:
            with self._live_lock:
                for instance_id, entry in pending.items():
                    self._live[instance_id] = entry
                    self._live.move_to_end(instance_id)
                while len(self._live) > self.live_cache_size:
                    self._live.popitem(last=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction for reads only (no write lock on SQLite); never write in it.

        Inside a transaction of this engine it reads in that one (and so sees its own writes).
        """
        current = _CURRENT.get()
        if current is not None and current[0] is self:
            yield current[1]
            return
        with transaction(self.session_factory, read_only=True) as session:
            yield session

    def in_transaction(self) -> bool:
        current = _CURRENT.get()
        return current is not None and current[0] is self

    def retrying(self, work: Callable[[], T], attempts: int = RETRY_ATTEMPTS) -> T:
        """Run `work` again after a retryable conflict (a deadlock, a concurrent save), a few times.

        Inside an enclosing transaction nothing is retried here: the conflict has spoiled that
        transaction, so it goes up to whoever opened it. The last conflict is raised (a 409).
        """
        if self.in_transaction():
            return work()
        for attempt in range(1, attempts + 1):
            try:
                return work()
            except ConcurrencyConflict as conflict:
                if not conflict.retryable or attempt == attempts:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # noqa: S311 - jitter, not crypto
        raise AssertionError("unreachable")

    def lock_instance(self, session: Session, instance: int | InstanceLock | sa.ScalarSelect[Any],
                      params: dict[str, Any] | None = None) -> ProcessInstance | None:
        """Load an instance for a change, holding its row lock (PostgreSQL) until commit.

        Every operation locks its instance before anything else, so steps, withdrawals and the
        sweep on one case take turns and each sees what the one before it committed. `instance` is
        an id, a prepared InstanceLock (e.g. the instance of a case by its key) with its `params`, or a
        scalar subquery giving the id (prepared on the spot: for paths that do not run often).
        """
        if isinstance(instance, int):
            return BY_INSTANCE_ID.load(session, {"lock_instance_id": instance})
        if not isinstance(instance, InstanceLock):
            instance = InstanceLock.where_id(instance)
        return instance.load(session, params or {})

    def bind(self, key: str, binding: ProcessBinding) -> None:
        self.bindings[key] = binding

    def binding_of(self, key: str) -> ProcessBinding:
        return self.bindings.get(key, self.default_binding)

    def operation_names(self, key: str | None = None) -> set[str]:
        """The named operations a model of `key` (any key when None) may call: for deploy checks."""
        if key is not None:
            return self.binding_of(key).operation_names()
        return set().union(self.default_binding.operation_names(),
                           *(binding.operation_names() for binding in self.bindings.values()))

    def forms(self, session: Session, definition: ProcessDefinition) -> dict[str, Any]:
        """The parsed forms deployed with a definition (immutable, so cached by id)."""
        forms = self._forms.get(definition.id)
        if forms is None:
            forms = self._forms[definition.id] = forms_of(session, definition.id)
        return forms

    def commitment_names(self, session: Session) -> dict[str, dict[str, str]]:
        """The names the deployed models give their commitments ({commitment: {"zh", "en"}}), newest
        versions first: one query for the definitions' ids; the models are parsed once per version."""
        ids = session.scalars(sa.select(ProcessDefinition.id).order_by(ProcessDefinition.id.desc())).all()
        names: dict[str, dict[str, str]] = {}
        for definition_id in ids:
            for commitment, name in spiff.commitment_names(
                    self.specs.get(self.definition(session, definition_id), session)).items():
                names.setdefault(commitment, name)
        return names

    def documentation(self, session: Session, definition: ProcessDefinition, bpmn_id: str) -> str | None:
        return spiff.documentation_of_element(self.specs.get(definition, session), bpmn_id)

    def definition(self, session: Session, definition_id: int) -> ProcessDefinition:
        """A deployed definition (immutable, so cached by id)."""
        definition = self._definitions.get(definition_id)
        if definition is None:
            definition = session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFound(f"Process definition {definition_id} doesn't exist.")
            session.expunge(definition)
            self._definitions[definition_id] = definition
        return definition

    @overload
    def latest_definition(self, session: Session, key: str, required: Literal[True] = True) -> ProcessDefinition: ...
    @overload
    def latest_definition(self, session: Session, key: str, required: bool) -> ProcessDefinition | None: ...
    def latest_definition(self, session: Session, key: str, required: bool = True) -> ProcessDefinition | None:
        """The newest deployed version of `key`, its id looked up and the definition cached (NotFound if
        there is none, unless not `required`)."""
        definition_id = session.connection().execute(LATEST_DEFINITION_ID, {"key": key}).scalar()
        if definition_id is None:
            if required:
                raise NotFound(f"No process definition {key!r} is deployed")
            return None
        return self.definition(session, definition_id)

    def start(self, session: Session, definition: ProcessDefinition, business_key: str,
              data: dict[str, Any], context: InstanceContext) -> InstanceOperation:
        """Create an instance of `definition`, run it to its first wait state, flush it."""
        now = self.clock.now()
        row = ProcessInstance(definition_id=definition.id, business_key=business_key, status="running",
                              state="{}", created_at=now, updated_at=now)
        session.add(row)
        session.flush()  # the row exists (version 1) before the first save updates it
        operation = InstanceOperation(self, session, row, definition, context)
        operation.workflow = spiff.new_workflow(operation.model, operation.script_engine, data)
        operation.snapshot = Snapshot.of(None)
        return operation

    def open(self, session: Session, instance: ProcessInstance, context: InstanceContext | None = None,
             definition: ProcessDefinition | None = None) -> InstanceOperation:
        """Prepare an operation on an existing instance (`context` saves a lookup if known).

        The workflow is restored on the instance's own version; with `definition` (another version
        of its process, for a migration) the operation runs and saves as that version.
        """
        source = self.definition(session, instance.definition_id)
        definition = definition or source
        if context is None:
            context = self.binding_of(definition.key).context(session, instance)
        operation = InstanceOperation(self, session, instance, definition, context)
        with self._live_lock:
            cached = self._live.pop(instance.id, None)
        if cached is not None and cached[0] == instance.version:
            _, operation.workflow, operation.snapshot = cached
            operation.workflow.script_engine = operation.script_engine
        else:
            model = self.specs.get(source, session)
            operation.workflow = spiff.load_state(instance.state, model, operation.script_engine)
            operation.snapshot = Snapshot.of(operation.workflow)
        return operation

    def _remember(self, session: Session, operation: InstanceOperation) -> None:
        if operation.workflow.completed:
            return  # a finished case is rarely opened again: not worth its memory
        pending = session.info["engine_pending_live"]
        pending[operation.instance.id] = (operation.instance.version, operation.workflow, operation.snapshot)

    def forget_live_workflows(self) -> None:
        with self._live_lock:
            self._live.clear()


@dataclass
class InstanceOperation:
    """One step on one instance, inside the caller's transaction."""

    engine: Engine
    session: Session
    instance: ProcessInstance
    definition: ProcessDefinition
    context: InstanceContext
    workflow: Any = None
    # What the projections say before this operation writes (ready tasks, waiting timers).
    snapshot: Snapshot = field(default_factory=lambda: Snapshot.of(None))
    # Deadlines computed during this operation: due ISO string -> provisional.
    provisional_dues: dict[str, bool] = field(default_factory=dict)
    # Due timers' provisional flags as the sweep read them with its claim (spiff task id -> flag).
    timer_provisional: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.model = self.engine.specs.get(self.definition, self.session)
        self.binding = binding = self.engine.binding_of(self.definition.key)
        self.actor: Any = None  # who acts in this operation, for the effects it runs
        self._calendar: WorkingDayCalendar | None = None

        def add_working_days(start: str | datetime, working_days: int) -> str:
            working_days = int(working_days)
            if abs(working_days) > MAX_WORKING_DAYS:
                raise ModelError(f"add_working_days counts at most {MAX_WORKING_DAYS} working days, "
                                 f"not {working_days}")
            deadline = self.calendar.add_working_days(parse_instant(start), working_days)
            due = deadline.due.isoformat()
            self.provisional_dues[due] = deadline.provisional
            return due

        def working_days_between(start: str | datetime, end: str | datetime) -> int:
            first, last = parse_instant(start), parse_instant(end)
            if abs((last - first).days) > MAX_WORKING_DAYS * 2:
                raise ModelError(f"working_days_between counts at most {MAX_WORKING_DAYS * 2} calendar days")
            return self.calendar.working_days_between(first, last)

        self.script_engine = spiff.EngineScriptEngine(
            {"add_working_days": add_working_days, "working_days_between": working_days_between},
            self.engine.clock,
            binding.services(self),
            self.engine.script_line_budget,
            self.engine.script_limits,
        )

    @property
    def calendar(self) -> WorkingDayCalendar:
        """The working-day calendar, read only by operations that compute deadlines."""
        if self._calendar is None:
            self._calendar = self.engine.calendars.get(self.session)
        return self._calendar

    @property
    def now(self) -> datetime:
        return self.engine.clock.now()

    def fire_due_timers(self) -> None:
        """Catch up on every timer due by the engine's clock before acting."""
        now = self.now
        if any(due <= now for _, due in self.snapshot.timers.values()):
            spiff.run_due_timers(self.workflow)

    def effects(self) -> dict[str, Any]:
        return self.binding.effects(self)

    def ready_task(self, bpmn_id: str) -> Any | None:
        for task in spiff.ready_user_tasks(self.workflow):
            if task.task_spec.bpmn_id == bpmn_id:
                return task
        return None

    def step_taken(self, api_step: str) -> bool:
        """Whether a task the model names `api_step` has been completed in this case."""
        return any(state == "COMPLETED" for _, state in spiff.tasks_with_property(self.workflow, "apiStep", api_step))

    def complete(self, task: Any, data: dict[str, Any]) -> None:
        spiff.complete_user_task(self.workflow, task, data)

    def send_message(self, name: str, payload: Any = None) -> bool:
        return spiff.send_message(self.workflow, name, payload)

    def recompute_timers(self) -> int:
        """Re-evaluate every waiting timer (the calendar changed); return how many moved."""
        moved = 0
        for task, due in spiff.waiting_timers(self.workflow):
            if spiff.reset_timer(task) != due:
                moved += 1
        return moved

    def save(self, actor: str) -> None:
        """Write the state back (optimistic lock first) and update the projections."""
        workflow, instance = self.workflow, self.instance
        values = {
            "state": spiff.dump_state(workflow),
            "status": "completed" if workflow.completed else "running",
            "end_event": spiff.end_event_id(workflow),
            "updated_at": self.now,
            "version": instance.version + 1,
            "definition_id": self.definition.id,  # another version after a migration
        }
        # The version check comes before any projection write: on PostgreSQL the UPDATE also
        # takes the row lock, so a concurrent loser stops here instead of clashing on rows.
        updated = self.session.connection().execute(
            _SAVE_INSTANCE, {"iid": instance.id, "expected_version": instance.version, **values}
        ).rowcount
        if updated != 1:
            raise ConcurrencyConflict(
                "The application was changed by someone else at the same time; reload and try again",
                instance_id=instance.id,
            )
        for name, value in values.items():
            set_committed_value(instance, name, value)
        self.snapshot = sync_projections(self, self.snapshot, actor)
        self.binding.after_save(self)
        self.engine._remember(self.session, self)


_INSTANCE = table_of(ProcessInstance)

_SAVE_INSTANCE = (
    sa.update(_INSTANCE)
    .where(_INSTANCE.c.id == sa.bindparam("iid"), _INSTANCE.c.version == sa.bindparam("expected_version"))
    .values(state=sa.bindparam("state"), status=sa.bindparam("status"), end_event=sa.bindparam("end_event"),
            updated_at=sa.bindparam("updated_at"), version=sa.bindparam("version"),
            definition_id=sa.bindparam("definition_id"))
)
