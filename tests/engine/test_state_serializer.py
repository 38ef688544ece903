"""Workflow states are dumped without a process-wide lock: each thread has its own serializer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from engine.workflow.adapter import EngineScriptEngine, dump_state, load_state, new_workflow, parse_model, state
from engine.workflow.clock import SystemClock

ROOT = Path(__file__).resolve().parents[2]


def test_each_thread_dumps_with_its_own_serializer():
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.extend([state._serializer(), state._serializer()]))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0] is seen[1] and seen[2] is seen[3] and seen[4] is seen[5]  # one per thread, kept
    assert len({id(seen[0]), id(seen[2]), id(seen[4])}) == 3
    assert all(other is not state.serializer for other in seen)  # never the one spec diffs share


def test_states_dumped_in_parallel_are_exact_and_restore():
    model = parse_model((ROOT / "bpmn" / "satisfaction_survey.bpmn").read_text(encoding="utf-8"))
    engine = EngineScriptEngine({"add_working_days": lambda start, days: "2026-12-10T16:00:00+00:00",
                                 "working_days_between": lambda first, last: 0}, SystemClock(), {})
    workflows = [new_workflow(model, engine, {"case": n, "survey_working_days": 10,
                                              "started_at": datetime(2026, 11, 26, n, tzinfo=UTC).isoformat()})
                 for n in range(8)]
    expected = [dump_state(workflow) for workflow in workflows]
    results: dict[int, list[str]] = {}
    barrier = threading.Barrier(8)

    def dump(n: int) -> None:
        barrier.wait()
        results[n] = [dump_state(workflows[n]) for _ in range(20)]

    threads = [threading.Thread(target=dump, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(8):
        assert set(results[n]) == {expected[n]}
        restored = load_state(expected[n], model, engine)
        assert restored.data.get("case", restored.task_tree.data.get("case")) == n
