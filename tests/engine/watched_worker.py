"""The worker watchdog test's worker: `python -m tests.engine.watched_worker URL TIMEOUT`.

Its sweep children get a hole in the sandbox: a helper `hang()` that starts one C-level
operation that never ends (holding the GIL), which only killing the process stops. Each child
sweeps once and exits; the parent (the real `engine.platform.worker.supervise`) must kill the child
stuck in the poisoned case, park that case, and let the next child fire the others.
"""

from __future__ import annotations

import itertools
import sys

from engine.platform.worker import CaseWatch, WorkerSettings, build_worker_engine, supervise
from engine.workflow import adapter as spiff_adapter
from engine.workflow.timers import sweep_due_timers


def _hang() -> int:
    return sum(itertools.count())  # one C call, never returns


def sweep_once_with_a_hole(watch: CaseWatch, settings: WorkerSettings) -> None:
    original = spiff_adapter.EngineScriptEngine.__init__

    def with_hole(self, helpers, *args, **kwargs):  # noqa: ANN001, ANN202
        original(self, {**helpers, "hang": _hang}, *args, **kwargs)

    spiff_adapter.EngineScriptEngine.__init__ = with_hole
    engine = build_worker_engine(settings)
    engine.on_case = watch
    result = sweep_due_timers(engine, settings.batch_size)
    print(f"child swept {result.instances} cases", flush=True)


def main() -> None:
    settings = WorkerSettings(database_url=sys.argv[1], sweep_seconds=1, batch_size=50,
                              case_timeout_seconds=float(sys.argv[2]))
    supervise(settings, child=sweep_once_with_a_hole, poll_seconds=0.2, rounds=3)


if __name__ == "__main__":
    main()
