"""`make bench`: the engine's lifecycle throughput against bare SpiffWorkflow, and the timer sweep.

All figures come from one process and one run; each is the median of several rounds, so that
the ratio compares like with like on a noisy machine. Results are printed last and written to
BENCHMARKS.md with the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from engine.loans import services
from engine.loans.actors import ENTERPRISE, OFFICER, Actor
from engine.models import Base, Enterprise, Institution, LoanProduct
from engine.platform.bootstrap import build_engine, prepare
from engine.workflow.adapter import dump_state
from engine.workflow.clock import ControlledClock
from engine.workflow.database import create_db_engine
from engine.workflow.definitions import BPMN_DIR
from engine.workflow.runtime import Engine
from engine.workflow.timers import sweep_due_timers
from engine.workflow.working_days import WorkingDayCalendar, chinese_calendar_rules

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 CST
APPROVAL = {"amount": Decimal("100000.00"), "annual_rate": Decimal("3.85"), "term_months": 12}


def _fresh_engine(directory: Path, name: str) -> tuple[Engine, ControlledClock, Actor, Actor, dict]:
    url = f"sqlite:///{directory / name}"
    db = create_db_engine(url)
    Base.metadata.create_all(db)
    db.dispose()
    return engine_with_parties(url)


def engine_with_parties(url: str) -> tuple[Engine, ControlledClock, Actor, Actor, dict]:
    """An engine on `url` (schema made) with its clock at START, the model, one bank, product and enterprise."""
    clock = ControlledClock(START)
    engine = build_engine(url, clock)
    prepare(engine)
    with engine.transaction() as session:
        bank = Institution(code="A", name="Bank A")
        enterprise = Enterprise(name="Ent", credit_code="91430100MA4L000001")
        session.add_all([bank, enterprise])
        session.flush()
        product = LoanProduct(institution_id=bank.id, code="P", name="P")
        session.add(product)
        session.flush()
        ids = {"institution_id": bank.id, "product_id": product.id}
        applicant = Actor("ent", ENTERPRISE, enterprise_id=enterprise.id)
        officer = Actor("officer", OFFICER, institution_id=bank.id)
    return engine, clock, applicant, officer, ids


def _application(ids: dict, now: datetime) -> dict:
    return {
        **ids, "amount": "100000.00", "term_months": 12, "purpose": "bench",
        "authorization": {"scope": "credit report", "granted_by": "ent", "granted_at": now.isoformat(),
                          "expires_at": (now + timedelta(days=30)).isoformat()},
    }


def engine_lifecycles(engine: Engine, clock: ControlledClock, applicant: Actor, officer: Actor,
                      ids: dict, count: int) -> float:
    """Seconds for `count` full lifecycles through the engine's services."""
    began = time.perf_counter()
    for _ in range(count):
        app_id = services.submit(engine, applicant, _application(ids, clock.now())).id
        services.accept(engine, officer, app_id)
        services.approve(engine, officer, app_id, APPROVAL)
        services.disburse(engine, officer, app_id, {
            "contract_number": "HT", "amount": "100000.00", "disbursed_on": "2026-03-02"})
        services.settle(engine, officer, app_id, {"settled_on": "2026-03-02"})
    return time.perf_counter() - began


def raw_spiff_lifecycles(count: int, database_url: str | None = None) -> float:
    """Seconds for `count` lifecycles of the same BPMN with bare SpiffWorkflow: in memory, or with
    `database_url` the baseline a team would write by hand: its state as JSON (SpiffWorkflow's serializer,
    without the spec) inserted at the start and written back with one UPDATE per step, each its own
    transaction (no projections, no audit, no outbox, no tenancy, no sandbox)."""
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    rules, years = chinese_calendar_rules()
    calendar = WorkingDayCalendar(rules, years)

    def add_working_days(start: str, days: int) -> str:
        return calendar.add_working_days(datetime.fromisoformat(start), days).due.isoformat()

    class Engine_(PythonScriptEngine):
        def call_service(self, task, operation_name="", operation_params=None, **kwargs):  # noqa: ANN001
            return json.dumps(True)

    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN_DIR / "loan_lifecycle.bpmn"))
    parser.add_dmn_files([str(path) for path in (BPMN_DIR / "decisions").glob("*.dmn")])
    spec = parser.get_spec("loan_lifecycle")
    subprocesses = parser.get_subprocess_specs("loan_lifecycle")
    script_engine = Engine_(environment=TaskDataEnvironment({"add_working_days": add_working_days}))
    # What the engine's named operations add to the task data (record_acceptance, record_decision).
    steps = [("Accept", {"accepted_at": START.isoformat()}),
             ("Decide", {"decision": "approve", "decided_at": START.isoformat()}),
             ("Disburse", {}), ("Settle", {})]
    start = {"submitted_at": START.isoformat(), "product_code": "P"}
    database = create_db_engine(database_url) if database_url else None  # the same settings as the engine's
    if database is not None:
        with database.begin() as connection:
            connection.execute(sa.text(
                "CREATE TABLE IF NOT EXISTS bench_workflow (id INTEGER PRIMARY KEY, state TEXT)"))
    began = time.perf_counter()
    for _ in range(count):
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=script_engine)
        workflow.task_tree.data.update(start)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(start)
        workflow.do_engine_steps()
        if database is not None:
            with database.begin() as connection:
                row = connection.execute(sa.text("INSERT INTO bench_workflow (state) VALUES (:s) RETURNING id"),
                                         {"s": dump_state(workflow)}).scalar()
        for name, data in steps:
            [task] = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == name]
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
            if database is not None:
                with database.begin() as connection:
                    connection.execute(sa.text("UPDATE bench_workflow SET state = :s WHERE id = :i"),
                                       {"s": dump_state(workflow), "i": row})
        assert workflow.completed
    if database is not None:
        database.dispose()
    return time.perf_counter() - began


def timer_sweep(directory: Path, count: int) -> tuple[int, float]:
    """Create `count` applications and fire their timers on time, as production does.

    Two sweeps: at the reminder's instant (a working day before the deadline: each reminder writes
    its audit event and outbox message), then at the deadline's (each writes a breach, an audit
    event and an outbox message). Each sweep starts with an empty live-workflow cache, like a
    worker that has not seen these cases for a day.
    """
    engine, clock, applicant, _, ids = _fresh_engine(directory, "timers.db")
    for _ in range(count):
        services.submit(engine, applicant, _application(ids, clock.now()))
    fired, elapsed = 0, 0.0
    # START is Monday 10:00 CST: the reminder falls due on Wednesday 24:00, the deadline on Thursday 24:00.
    for instant in (datetime(2026, 3, 4, 16, 1, tzinfo=UTC), datetime(2026, 3, 5, 16, 1, tzinfo=UTC)):
        engine.forget_live_workflows()
        clock.set(instant)
        began = time.perf_counter()
        result = sweep_due_timers(engine, batch_size=100)
        elapsed += time.perf_counter() - began
        assert result.failed == 0 and result.claimed == count, result
        fired += result.claimed
    return fired, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    args = parser.parse_args()
    rounds, per_round, timers = (3, 20, 200) if args.quick else (5, 100, 1000)

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        engine, clock, applicant, officer, ids = _fresh_engine(directory, "lifecycles.db")
        engine_lifecycles(engine, clock, applicant, officer, ids, 5)  # warm caches and the model
        baseline_url = f"sqlite:///{directory / 'baseline.db'}"
        raw_spiff_lifecycles(5)
        raw_spiff_lifecycles(5, baseline_url)
        engine_rates, raw_rates, baseline_rates = [], [], []
        for _ in range(rounds):  # interleaved, so all see the same machine conditions
            engine_rates.append(per_round / engine_lifecycles(engine, clock, applicant, officer, ids, per_round))
            raw_rates.append(per_round / raw_spiff_lifecycles(per_round))
            baseline_rates.append(per_round / raw_spiff_lifecycles(per_round, baseline_url))
        fired, elapsed = timer_sweep(directory, timers // 2)

    engine_rate, raw_rate = statistics.median(engine_rates), statistics.median(raw_rates)
    baseline_rate = statistics.median(baseline_rates)
    figures = {
        "engine_lifecycles_per_s": f"{engine_rate:.1f}",
        "raw_spiff_lifecycles_per_s": f"{raw_rate:.1f}",
        "engine_to_raw_ratio": f"{engine_rate / raw_rate:.2f}",
        "baseline_lifecycles_per_s": f"{baseline_rate:.1f}",
        "engine_to_baseline_ratio": f"{engine_rate / baseline_rate:.2f}",
        "timers_fired_per_s": f"{fired / elapsed:.0f}",
    }
    command = "make bench" + (" QUICK=1" if args.quick else "")
    detail = (f"{rounds} rounds of {per_round} lifecycles each (median), SQLite file database; the raw ceiling is "
              "bare SpiffWorkflow in memory, the baseline bare SpiffWorkflow with its state as JSON inserted and "
              "then updated once per step in a SQLite file (no projections, audit, outbox, tenancy or sandbox); "
              f"{fired} timers ({timers // 2} applications) fired on time: reminders in one sweep, then deadlines "
              "in another")
    targets = [("engine_to_raw_ratio", "ratio at least 0.5", lambda v: v >= 0.5),
               ("engine_to_baseline_ratio", "at least 0.7 of the baseline", lambda v: v >= 0.7),
               ("timers_fired_per_s", "at least 1,000 timers per second", lambda v: v >= 1000)]
    _write_benchmarks("Engine core", figures, command, detail, targets)

    from bench.http_api import run_http_benchmarks
    from bench.http_scale import rss_cases, scale_plan

    http_figures = run_http_benchmarks(args.quick)
    from bench.http_statements import measure as measure_statements

    http_figures.update(measure_statements())
    scale_rounds, scale_per_client = scale_plan(args.quick)
    http_detail = ("a lifecycle is submit, accept, decide, disburse, settle, with an Idempotency-Key on every POST "
                   "(as the bank client sends) and one keep-alive connection per client and party. First waitress "
                   "with 8 threads in one process (`make run`'s server): a sequential client, then 8 concurrent "
                   "clients (threads of the bench process); SQLite file, then PostgreSQL 15 on 127.0.0.1 "
                   "(APP_ENV=production). Then the several-process recipe on PostgreSQL (`make serve`: gunicorn "
                   "gthread, 8 threads per process, web/gunicorn_config.py): 1 process against 2, a new server per "
                   f"round, alternated ({scale_rounds} round(s) each, medians), 8 concurrent clients each in its own "
                   f"process, {scale_per_client} lifecycles each after 2 untimed ones. Everything shares the "
                   f"machine's cores: the clients cost {http_figures['http_clients_cpu_ms_per_lifecycle']} ms of CPU "
                   f"per lifecycle, gunicorn's workers {http_figures['http_server_cpu_ms_per_lifecycle_pg']} ms (the "
                   f"rest is PostgreSQL's). Last, one gunicorn process on PostgreSQL takes {rss_cases(args.quick):,} "
                   "lifecycles from 8 concurrent client processes after 20 sequential ones: its worker's VmRSS "
                   "(/proc/<pid>/status) after those 20 and at the end. Statements: every statement the app sends "
                   "to the database in a keyed lifecycle, counted at the driver in-process (bench/http_statements.py; "
                   "SQLite's BEGIN IMMEDIATE included; on PostgreSQL not counted: psycopg's implicit BEGIN, the "
                   "COMMIT and the pool's pre-ping, one each per transaction: "
                   f"{http_figures['http_transactions_per_lifecycle_pg']} transactions per lifecycle)")
    http_targets = [("http_lifecycles_per_s", "at least 60 lifecycles per second sequentially on SQLite (one process)",
                     lambda v: v >= 60),
                    ("http_step_p50_ms", "step p50 at most 5 ms", lambda v: v <= 5),
                    ("http_statements_per_lifecycle", "at most 45 statements per keyed lifecycle", lambda v: v <= 45),
                    ("http_scale_2_processes_pg", "two gunicorn processes at least 1.7 times one on PostgreSQL",
                     lambda v: v >= 1.7)]
    _write_benchmarks("HTTP API", http_figures, command, http_detail, http_targets)
    from bench.sweep_pg import measure as measure_sweep

    sweep_cases, burst = (1_000, None) if args.quick else (10_000, 100_000)
    sweep_figures = measure_sweep(sweep_cases, burst, rounds=1 if args.quick else 3)
    sweep_detail = (f"PostgreSQL on 127.0.0.1; {sweep_cases} acceptance deadlines falling due at once, each case's "
                    "reminder fired the day before; each worker its own process (`python -m bench.sweep_pg "
                    "--worker`), one then two, alternated, medians; each deadline loads its workflow, records the "
                    "breach, an audit event and an outbox message and saves the workflow and projections"
                    + (f"; then a burst of {burst:,} deadlines swept by two workers" if burst else "")
                    + ". Backlog: seeds through the services, copied by SQL (see bench/sweep_pg.py)")
    sweep_targets = [("sweep_instances_per_s_pg", "one worker at least 250 cases per second", lambda v: v >= 250),
                     ("sweep_scale_2_workers_pg", "two workers at least 1.7 times one", lambda v: v >= 1.7)]
    if burst:
        sweep_targets.append(("burst_100k_seconds_pg", "100,000 deadlines within 240 s", lambda v: v <= 240))
    _write_benchmarks("Timer sweep on PostgreSQL", sweep_figures, command, sweep_detail, sweep_targets)
    for name, value in {**figures, **http_figures, **sweep_figures}.items():
        print(f"{name}: {value}")


def _write_benchmarks(title: str, figures: dict[str, str], command: str, detail: str,
                      targets: list[tuple[str, str, object]]) -> None:
    """Replace this benchmark's section of BENCHMARKS.md, keeping every other section."""
    path = ROOT / "BENCHMARKS.md"
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"
    verdicts = [f"{text}: {'reached' if check(float(figures[name])) else 'not reached'}"
                for name, text, check in targets]
    section = [
        f"## {title} ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}  ",
        f"Setup: {detail}",
        "",
        "```",
        *[f"{name}: {value}" for name, value in figures.items()],
        "```",
        "",
        "Targets: " + "; ".join(verdicts) + ".",
        "",
    ]
    header = "# Benchmarks\n\nFigures written by `make bench`; each run replaces its own sections.\n\n"
    existing = path.read_text(encoding="utf-8") if path.exists() else header
    marker = f"## {title} ("
    if marker in existing:
        before, _, rest = existing.partition(marker)
        after = rest.split("\n## ", 1)[1] if "\n## " in rest else ""
        existing = before + ("## " + after if after else "")
    path.write_text(existing.rstrip() + "\n\n" + "\n".join(section), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
