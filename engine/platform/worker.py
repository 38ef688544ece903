"""`flask worker`: the timer sweep in a child process, watched by its parent.

The sandbox's guards stop model code that runs too long or allocates too much, but a single
C-level operation they failed to foresee would hold its thread (and the GIL) for ever, and the
worker with it. So the sweep runs in a child process that notes which case it is firing; if one
case runs past `case_timeout_seconds`, the parent kills the child (SIGKILL: the database rolls its
transaction back and releases its locks), parks that case as an incident, and starts a new child.
The worker loses only that case.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.models import TimerRow
from engine.workflow.errors import ModelError
from engine.workflow.incidents import RetryPolicy, park_failed_case

log = logging.getLogger(__name__)
_SPAWN = multiprocessing.get_context("spawn")  # no inherited connections or threads in the child


class CaseTimedOut(ModelError):
    """A case's model code ran past the worker's time limit; the worker was restarted without it."""

    code = "case_timed_out"


@dataclass(frozen=True)
class WorkerSettings:
    """What a sweep child needs to build its own engine (picklable: the child is spawned)."""

    database_url: str
    sweep_seconds: int
    batch_size: int
    script_line_budget: int = 10_000
    script_limits: dict[str, Any] = field(default_factory=dict)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    case_timeout_seconds: float = 60.0
    delivery: Any = None  # notifications.settings.DeliverySettings: the delivery job runs next to the sweep
    live_cache_size: int = 1_000
    keyring: Any = None  # engine.workflow.encryption.Keyring: the parent's, installed in the child
    report_targets: Any = None  # engine.loans.reports.targets.Targets: kept with each report produced


class CaseWatch:
    """Which case the child is firing and since when, in memory shared with the parent."""

    def __init__(self) -> None:
        self.instance_id = _SPAWN.Value("q", 0, lock=False)
        self.started = _SPAWN.Value("d", 0.0, lock=False)

    def __call__(self, instance_id: int | None) -> None:
        if instance_id is None:
            self.instance_id.value = 0
        else:
            self.started.value = time.monotonic()
            self.instance_id.value = instance_id

    def overran(self, timeout: float) -> int | None:
        instance_id = self.instance_id.value
        if instance_id and time.monotonic() - self.started.value > timeout:
            return int(instance_id)
        return None


def build_worker_engine(settings: WorkerSettings) -> Any:
    from engine.platform.bootstrap import build_engine
    from engine.workflow.encryption import install

    if settings.keyring is not None:
        install(settings.keyring)
    return build_engine(settings.database_url, script_line_budget=settings.script_line_budget,
                        retry_policy=settings.retry_policy, script_limits=settings.script_limits,
                        live_cache_size=settings.live_cache_size)


def sweep_child(watch: CaseWatch, settings: WorkerSettings) -> None:
    """The child: sweep (and purge) on schedule, telling `watch` which case it is in."""
    from engine.platform.scheduler import run_blocking

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = build_worker_engine(settings)
    engine.on_case = watch
    try:
        run_blocking(engine, settings.sweep_seconds, settings.batch_size, settings.delivery,
                     settings.report_targets)
    except (KeyboardInterrupt, SystemExit):
        return


def _child_entry(child: Any, watch: CaseWatch, settings: WorkerSettings) -> None:
    """The child process's start: Ctrl-C unblocked again (the mask is inherited), then `child`."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    child(watch, settings)


def park_overrun_case(engine: Any, instance_id: int, timeout: float) -> None:
    """Park the case whose model code the parent had to kill the child for."""
    with engine.transaction() as session:
        if engine.lock_instance(session, instance_id) is None:
            return
        due = list(session.scalars(sa.select(TimerRow.id).where(
            TimerRow.instance_id == instance_id, TimerRow.state == "waiting",
            TimerRow.due_at <= engine.clock.now())))
        park_failed_case(session, engine, instance_id, due, CaseTimedOut(
            f"The model ran for more than {timeout:g} s on this case; the worker was restarted without it"))


def supervise(settings: WorkerSettings, child: Any = sweep_child, poll_seconds: float = 0.5,
              rounds: int | None = None) -> None:
    """Run sweep children one after another, killing one that overruns a case; Ctrl-C stops.

    `child` is the child's entry point (a module-level function taking the watch and settings);
    `rounds` limits how many children are started (tests), None means for ever.
    """
    engine = build_worker_engine(settings)
    started = 0
    while rounds is None or started < rounds:
        watch = CaseWatch()
        # Daemonic: should this process end by any path, the child is terminated with it.
        process = _SPAWN.Process(target=_child_entry, args=(child, watch, settings), name="sweep-worker",
                                 daemon=True)
        started += 1
        try:
            # Ctrl-C is held while the child starts: arriving inside start(), it would leave a running child
            # this process no longer knows of (holding our stdout open). It is taken right after, below.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            while process.is_alive():
                process.join(poll_seconds)
                overrun = watch.overran(settings.case_timeout_seconds)
                if overrun is not None:
                    process.kill()
                    process.join()
                    log.error("Case (instance %s) ran past %s s: worker restarted, case parked",
                              overrun, settings.case_timeout_seconds)
                    park_overrun_case(engine, overrun, settings.case_timeout_seconds)
            if process.exitcode == 0:
                return  # the child stopped on its own (Ctrl-C reached it): so do we
            if process.exitcode != -9:
                log.error("Sweep worker exited with %s; starting another in 5 s", process.exitcode)
                time.sleep(5)
        except KeyboardInterrupt:
            if process.pid is not None:
                process.terminate()
                process.join(10)
            return
