"""The timer sweep on PostgreSQL: one worker, two workers, and the midnight burst, on-time deadlines.

    python -m bench.sweep_pg [--cases 10000] [--burst 100000] [--write]

What it measures is what production does at midnight after a working day: every case has had its
reminder fired the day before (by a real sweep), and its acceptance deadline falls due now; firing it
loads the workflow, runs the deadline's service task (a breach in the ledger, an audit event, an
outbox message), saves the workflow and its projections. Each worker is its own process
(`--worker`), started before the clock and told to begin together, so start-up is not counted.

How the backlog is made: a few seed applications go through the real services (submit) and a real
reminder sweep; their rows (workflow state, application, timers, tasks) are then copied with
set-based SQL to the wanted number of cases, each copy its own application and instance. Copies
share their seed's workflow data (its reference in the process variables); nothing in the deadline's
work reads it. The filled database is a template: each run starts from an identical copy
(CREATE DATABASE ... TEMPLATE), so one and two workers sweep the same backlog.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
REMINDERS_DUE = datetime(2026, 3, 4, 16, 1, tzinfo=UTC)  # Wednesday 24:00 CST: a working day before
DEADLINES_DUE = datetime(2026, 3, 5, 16, 1, tzinfo=UTC)  # Thursday 24:00 CST: the acceptance deadline
SEEDS = 40


def _admin(statement: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(statement)


def _recreate(name: str, template: str | None = None) -> str:
    _admin(f"DROP DATABASE IF EXISTS {name}")
    _admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return DATABASE.format(name=name)


def _columns(connection: sa.Connection, table: str, leave_out: set[str]) -> list[str]:
    names = connection.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position"),
        {"t": table}).scalars()
    return [name for name in names if name not in leave_out]


def build_template(name: str, cases: int) -> None:
    """Seeds through the services and a real reminder sweep, then copies to `cases` applications."""
    from bench.run import _application, engine_with_parties
    from engine.loans import services
    from engine.platform.migrate import upgrade
    from engine.workflow.timers import sweep_due_timers

    url = _recreate(name)
    upgrade(url)
    engine, clock, applicant, _, ids = engine_with_parties(url)
    for _ in range(SEEDS):
        services.submit(engine, applicant, _application(ids, clock.now()))
    clock.set(REMINDERS_DUE)
    assert sweep_due_timers(engine).instances == SEEDS
    database = engine.session_factory.kw["bind"]
    with database.begin() as connection:
        _copy_cases(connection, cases - SEEDS)
        connection.execute(sa.text("ANALYZE"))
    database.dispose()


def _copy_cases(connection: sa.Connection, copies: int) -> None:
    connection.execute(sa.text(
        "CREATE TEMP TABLE seed AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id AS iid FROM process_instance"))
    instance = _columns(connection, "process_instance", {"id", "business_key"})
    connection.execute(sa.text(
        f"INSERT INTO process_instance (business_key, {', '.join(instance)}) "
        f"SELECT 'CL' || g, {', '.join('p.' + c for c in instance)} FROM generate_series(1, :n) g "
        "JOIN seed s ON s.k = (g - 1) % :s JOIN process_instance p ON p.id = s.iid"), {"n": copies, "s": SEEDS})
    connection.execute(sa.text(
        "CREATE TEMP TABLE copy AS SELECT p.id AS iid, s.iid AS seed_iid, p.business_key AS reference "
        "FROM process_instance p JOIN seed s ON s.k = (substr(p.business_key, 3)::int - 1) % :s "
        "WHERE p.business_key LIKE 'CL%'"), {"s": SEEDS})
    application = _columns(connection, "loan_application", {"id", "reference", "instance_id"})
    connection.execute(sa.text(
        f"INSERT INTO loan_application (reference, instance_id, {', '.join(application)}) "
        f"SELECT c.reference, c.iid, {', '.join('a.' + col for col in application)} FROM copy c "
        "JOIN loan_application a ON a.instance_id = c.seed_iid"))
    timer = _columns(connection, "timer", {"id", "instance_id"})
    connection.execute(sa.text(
        f"INSERT INTO timer (instance_id, {', '.join(timer)}) SELECT c.iid, {', '.join('t.' + col for col in timer)} "
        "FROM copy c JOIN timer t ON t.instance_id = c.seed_iid"))
    task = _columns(connection, "task", {"id", "instance_id", "application_id"})
    connection.execute(sa.text(
        f"INSERT INTO task (instance_id, application_id, {', '.join(task)}) "
        f"SELECT c.iid, a.id, {', '.join('t.' + col for col in task)} FROM copy c "
        "JOIN loan_application a ON a.instance_id = c.iid JOIN task t ON t.instance_id = c.seed_iid"))


def run_workers(template: str, workers: int, cases: int) -> float:
    """Seconds for `workers` processes to sweep a fresh copy of the template; checks the ledger after."""
    name = f"{template}_run"
    url = _recreate(name, template)
    command = [sys.executable, "-m", "bench.sweep_pg", "--worker", url, DEADLINES_DUE.isoformat()]
    processes = [subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(workers)]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [json.loads(process.communicate(timeout=3600)[0].strip().splitlines()[-1]) for process in processes]
    elapsed = time.perf_counter() - began
    database = sa.create_engine(url)
    with database.connect() as connection:
        breaches = connection.execute(sa.text("SELECT count(*), count(DISTINCT application_id) FROM sla_breach")).one()
        waiting = connection.execute(sa.text("SELECT count(*) FROM timer WHERE state = 'waiting'")).scalar()
    database.dispose()
    _admin(f"DROP DATABASE IF EXISTS {name}")
    assert sum(r["instances"] for r in results) == cases, results
    assert tuple(breaches) == (cases, cases) and waiting == 0, (breaches, waiting)  # exactly one breach per case
    return elapsed


def _worker(url: str, instant: str) -> None:
    from engine.platform.bootstrap import build_engine
    from engine.workflow.clock import ControlledClock
    from engine.workflow.timers import sweep_due_timers

    engine = build_engine(url, ControlledClock(datetime.fromisoformat(instant)))
    print("ready", flush=True)
    sys.stdin.readline()
    result = sweep_due_timers(engine, batch_size=100)
    print(json.dumps({"instances": result.instances, "claimed": result.claimed, "failed": result.failed}))


def measure(cases: int, burst: int | None, rounds: int = 3) -> dict[str, str]:
    template = "bench_sweep_tpl"
    build_template(template, cases)
    one, two = [], []
    for _ in range(rounds):  # alternated, so both see the same machine
        one.append(cases / run_workers(template, 1, cases))
        two.append(cases / run_workers(template, 2, cases))
    figures = {
        "sweep_instances_per_s_pg": f"{statistics.median(one):.0f}",
        "sweep_2_workers_instances_per_s_pg": f"{statistics.median(two):.0f}",
        "sweep_scale_2_workers_pg": f"{statistics.median(two) / statistics.median(one):.2f}",
    }
    if burst:
        build_template(template, burst)
        figures["burst_100k_seconds_pg" if burst == 100_000 else f"burst_{burst}_seconds_pg"] = (
            f"{run_workers(template, 2, burst):.0f}")
    _admin(f"DROP DATABASE IF EXISTS {template}")
    return figures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=None, help="also sweep this many deadlines with two workers")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name, value in measure(args.cases, args.burst, args.rounds).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
