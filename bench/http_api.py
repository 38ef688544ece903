"""Full lifecycles over HTTP against the production server setups.

For SQLite and for PostgreSQL, one waitress process with 8 threads (`make run`'s server): one
sequential client (per-step latencies), then 8 concurrent clients (threads of this process). Each
client keeps one HTTP connection open per party and sends an Idempotency-Key with every
state-changing call, as a bank's system would (examples/bank_system.py).

Then the several-process recipe on PostgreSQL (gunicorn, web/gunicorn_config.py, 8 threads per
process): 1 process against 2, alternated rounds, 8 concurrent clients each in its own forked
process (so this process's GIL is not the limit; what the clients cost in CPU is reported); and the
memory of one gunicorn worker process after many lifecycles.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import psycopg

from engine.loans.actors import ENTERPRISE
from engine.models import Enterprise, Institution, LoanProduct
from engine.platform.access import create_institution_key, create_user, issue_user_token
from engine.platform.bootstrap import build_engine, prepare
from engine.platform.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_http"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare_database(url: str) -> tuple[str, str]:
    """Schema, calendar, model, one bank with a key and one enterprise user with a token."""
    upgrade(url)
    engine = build_engine(url)
    prepare(engine)
    now = engine.clock.now()
    with engine.transaction() as session:
        bank = Institution(code="BENCH", name="Bench bank")
        enterprise = Enterprise(name="Bench enterprise", credit_code="91430100MA4L0BENCH")
        session.add_all([bank, enterprise])
        session.flush()
        session.add(LoanProduct(institution_id=bank.id, code="P", name="P"))
        user = create_user(session, now, "bench-enterprise", "bench-password-123", ENTERPRISE,
                           enterprise_id=enterprise.id)
        token = issue_user_token(session, now, user)[0]
        key = create_institution_key(session, now, "BENCH", "bench", "bench")[0]
    engine.session_factory.kw["bind"].dispose()
    return token, key


def _reset_postgres_database(name: str = "bench_http") -> str:
    """Drop and create database `name` beside the admin URL's; return its URL."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return POSTGRES_BENCH_URL.rsplit("/", 1)[0] + f"/{name}"


class Session:
    """One keep-alive connection; `call` returns the JSON body and the seconds it took."""

    def __init__(self, port: int, secret: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
        began = time.perf_counter()
        headers = self.headers
        if method == "POST":  # as the bank client (examples/bank_system.py) does on every state change
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        self.connection.request(method, path, body=json.dumps(body) if body is not None else None,
                                headers=headers)
        response = self.connection.getresponse()
        data = json.loads(response.read() or b"{}")
        elapsed = time.perf_counter() - began
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data, elapsed


def _lifecycle(enterprise: Session, bank: Session, institution_id: int, product_id: int) -> list[float]:
    from datetime import datetime, timezone

    now = datetime.now(UTC)
    app, submit_s = enterprise.call("POST", "/api/v1/applications", {
        "institution_id": institution_id, "product_id": product_id, "amount": "100000.00", "term_months": 12,
        "purpose": "bench", "authorization": {
            "scope": "credit report", "granted_by": "bench", "granted_at": now.isoformat(),
            "expires_at": (now + timedelta(days=30)).isoformat()}})
    ref = app["reference"]
    today = now.astimezone(timezone(timedelta(hours=8))).date().isoformat()
    steps = [submit_s]
    for path, body in ((f"/api/v1/applications/{ref}/accept", {}),
                       (f"/api/v1/applications/{ref}/decision",
                        {"decision": "approve", "amount": "100000.00", "annual_rate": "3.85", "term_months": 12}),
                       (f"/api/v1/applications/{ref}/disbursement",
                        {"contract_number": "HT", "amount": "100000.00", "disbursed_on": today}),
                       (f"/api/v1/applications/{ref}/settlement", {"settled_on": today})):
        steps.append(bank.call("POST", path, body)[1])
    return steps


def server_command(server: str, port: int, processes: int = 1, threads: int = 8) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a server: "waitress" (one process, as `make run`) or
    "gunicorn" (`processes` worker processes, as `make serve`)."""
    if server == "waitress":
        if processes != 1:
            raise ValueError("waitress serves from one process")
        return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", f"--threads={threads}", "--call",
                "web:create_app"], {}
    if server == "gunicorn":
        return ([sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_config", "web:create_app()"],
                {"PORT": str(port), "BIND": "127.0.0.1", "WEB_PROCESSES": str(processes), "WEB_THREADS": str(threads)})
    raise ValueError(f"unknown server {server!r}")


@contextmanager
def serving(url: str, env_overrides: dict[str, str], server: str = "waitress",
            processes: int = 1) -> Iterator[tuple[int, subprocess.Popen]]:
    """A server on `url` started and answering /healthz; stopped (SIGTERM) on leaving."""
    port = free_port()
    command, server_env = server_command(server, port, processes)
    log = tempfile.TemporaryFile()  # the server's log, shown if it fails to start
    env = {**os.environ, "DATABASE_URL": url, "SCHEDULER_ENABLED": "0", "LOAD_DEMO_DATA": "0", **env_overrides,
           **server_env}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_until_up(port, process, log)
        if server == "gunicorn":
            _wait_for_workers(process.pid, processes)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def run_backend(label: str, url: str, env_overrides: dict[str, str], sequential: int, per_client: int,
                clients: int = 8) -> dict[str, float]:
    token, key = _prepare_database(url)
    with serving(url, env_overrides) as (port, _server):
        ids = _ids(url)
        enterprise, bank = Session(port, token), Session(port, key)
        for _ in range(3):
            _lifecycle(enterprise, bank, *ids)  # warm-up
        steps: list[float] = []
        began = time.perf_counter()
        for _ in range(sequential):
            steps.extend(_lifecycle(enterprise, bank, *ids))
        sequential_rate = sequential / (time.perf_counter() - began)

        errors: list[BaseException] = []

        def client() -> None:
            mine_enterprise, mine_bank = Session(port, token), Session(port, key)
            try:
                for _ in range(per_client):
                    _lifecycle(mine_enterprise, mine_bank, *ids)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent_rate = clients * per_client / (time.perf_counter() - began)
        if errors:
            raise RuntimeError(f"{label}: {len(errors)} concurrent clients failed: {errors[0]}")
    quantiles = statistics.quantiles(steps, n=20)
    return {
        "lifecycles_per_s": sequential_rate,
        "step_p50_ms": statistics.median(steps) * 1000,
        "step_p95_ms": quantiles[18] * 1000,
        "concurrent_lifecycles_per_s": concurrent_rate,
    }


# Client processes are forked: this process holds no connection and runs no thread when they start.
_FORK = multiprocessing.get_context("fork")


def _client_process(port: int, token: str, key: str, ids: tuple[int, int], warmup: int, count: int,
                    start: Any, results: Any) -> None:
    """One client in its own process: `warmup` lifecycles, wait for the others, then `count` timed ones."""
    outcome: dict[str, Any] = {"error": None, "cpu_s": 0.0}
    try:
        enterprise, bank = Session(port, token), Session(port, key)
        for _ in range(warmup):
            _lifecycle(enterprise, bank, *ids)
    except BaseException as err:  # noqa: BLE001 - reported by the parent
        outcome["error"] = f"warm-up: {err}"
    start.wait()
    cpu = time.process_time()
    try:
        if outcome["error"] is None:
            for _ in range(count):
                _lifecycle(enterprise, bank, *ids)
    except BaseException as err:  # noqa: BLE001 - reported by the parent
        outcome["error"] = str(err)
    outcome["cpu_s"] = time.process_time() - cpu
    results.put(outcome)


def concurrent_clients(port: int, token: str, key: str, ids: tuple[int, int], clients: int, per_client: int,
                       warmup: int = 2, server_pids: list[int] | None = None) -> dict[str, Any]:
    """`clients` client processes, each `per_client` lifecycles after its warm-up: the rate (wall clock from
    the common start to the last lifecycle), the clients' CPU seconds and the server processes' CPU seconds
    (each process's too: the kernel hands each keep-alive connection to whichever worker accepts it first)."""
    start, results = _FORK.Barrier(clients + 1), _FORK.Queue()
    processes = [_FORK.Process(target=_client_process, args=(port, token, key, ids, warmup, per_client, start,
                                                             results)) for _ in range(clients)]
    for process in processes:
        process.start()
    try:
        start.wait(timeout=600)  # every client has warmed up
        server_cpu = [_cpu_seconds([pid]) for pid in server_pids or []]
        began = time.perf_counter()
        outcomes = [results.get(timeout=3600) for _ in processes]
        elapsed = time.perf_counter() - began
        server_cpu = [_cpu_seconds([pid]) - before for pid, before in zip(server_pids or [], server_cpu, strict=True)]
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    failed = [outcome["error"] for outcome in outcomes if outcome["error"]]
    if failed:
        raise RuntimeError(f"{len(failed)} of {clients} clients failed: {failed[0]}")
    return {"lifecycles_per_s": clients * per_client / elapsed, "elapsed_s": elapsed,
            "clients_cpu_s": sum(outcome["cpu_s"] for outcome in outcomes), "server_cpu_s": sum(server_cpu),
            "server_cpu_s_by_process": server_cpu}


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return sorted(found)


def _wait_for_workers(master: int, processes: int) -> list[int]:
    deadline = time.monotonic() + 60
    while len(workers := children_of(master)) != processes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn has {len(workers)} workers, not {processes}")
        time.sleep(0.1)
    return workers


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes so far (/proc/<pid>/stat, fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def measure_scale_pg(rounds: int, per_client: int, clients: int = 8, database: str = "bench_http",
                     order: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """gunicorn on PostgreSQL with 1 and with 2 processes (8 threads each), alternated `rounds` times, each
    round a new server; `clients` client processes of `per_client` lifecycles. Medians per process count."""
    url = _reset_postgres_database(database)
    token, key = _prepare_database(url)
    ids = _ids(url)
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in order}
    for _ in range(rounds):
        for processes in order:
            with serving(url, production_environment(), "gunicorn", processes) as (port, server):
                workers = children_of(server.pid)
                runs[processes].append(concurrent_clients(port, token, key, ids, clients, per_client,
                                                          server_pids=workers))
    return {"runs": runs, "clients": clients, "per_client": per_client,
            "median": {n: statistics.median(run["lifecycles_per_s"] for run in runs[n]) for n in order}}


def cases_label(count: int) -> str:
    """10000 -> "10k", 1000 -> "1k", 50 -> "50" (figure names)."""
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def measure_rss_pg(cases: int, clients: int = 8, warmup: int = 20, database: str = "bench_http") -> dict[str, str]:
    """One gunicorn worker process on PostgreSQL: its VmRSS after `warmup` lifecycles, then after `cases`
    more lifecycles from `clients` concurrent client processes."""
    url = _reset_postgres_database(database)
    token, key = _prepare_database(url)
    ids = _ids(url)
    with serving(url, production_environment(), "gunicorn", 1) as (port, server):
        (worker,) = children_of(server.pid)
        enterprise, bank = Session(port, token), Session(port, key)
        for _ in range(warmup):
            _lifecycle(enterprise, bank, *ids)
        after_warmup = _rss_mb(worker)
        enterprise.connection.close()  # not inherited by the forked clients
        bank.connection.close()
        per_client, rest = divmod(cases, clients)
        if rest:
            raise ValueError(f"{cases} lifecycles do not split over {clients} clients")
        run = concurrent_clients(port, token, key, ids, clients, per_client, warmup=0)
        after = _rss_mb(worker)
        if children_of(server.pid) != [worker]:
            raise RuntimeError("the gunicorn worker was replaced during the run")
    return {"rss_mb_after_warmup": f"{after_warmup:.0f}", f"rss_mb_after_{cases_label(cases)}_cases": f"{after:.0f}",
            "rss_run_lifecycles_per_s": f"{run['lifecycles_per_s']:.1f}"}


def _ids(url: str) -> tuple[int, int]:
    engine = build_engine(url)
    with engine.transaction() as session:
        bank = session.query(Institution).filter_by(code="BENCH").one()
        product = session.query(LoanProduct).filter_by(institution_id=bank.id).one()
        ids = (bank.id, product.id)
    engine.session_factory.kw["bind"].dispose()
    return ids


def _wait_until_up(port: int, server: subprocess.Popen, log: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        if answers_healthz(port):
            return
        time.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


def answers_healthz(port: int) -> bool:
    """Whether a server on `port` answers /healthz with 200 now."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def production_environment() -> dict[str, str]:
    """APP_ENV=production with a secret key and personal-data keys made up for this run (never stored)."""
    def key() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {"APP_ENV": "production", "SECRET_KEY": key(), "PERSONAL_DATA_KEYS": key(), "PERSONAL_DATA_HASH_KEY": key()}


def run_http_benchmarks(quick: bool) -> dict[str, str]:
    sequential, per_client = (20, 3) if quick else (100, 10)
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run_backend("sqlite", f"sqlite:///{Path(tmp) / 'http.db'}", {"APP_ENV": "development"},
                             sequential, per_client)
    url = _reset_postgres_database()
    postgres = run_backend("postgresql", url, production_environment(), sequential, per_client)
    figures["http_lifecycles_per_s"] = f"{sqlite['lifecycles_per_s']:.1f}"
    figures["http_step_p50_ms"] = f"{sqlite['step_p50_ms']:.1f}"
    figures["http_step_p95_ms"] = f"{sqlite['step_p95_ms']:.1f}"
    figures["http_concurrent_lifecycles_per_s"] = f"{sqlite['concurrent_lifecycles_per_s']:.1f}"
    figures["http_lifecycles_per_s_postgresql"] = f"{postgres['lifecycles_per_s']:.1f}"
    figures["http_step_p50_ms_postgresql"] = f"{postgres['step_p50_ms']:.1f}"
    figures["http_step_p95_ms_postgresql"] = f"{postgres['step_p95_ms']:.1f}"
    figures["http_concurrent_lifecycles_per_s_postgresql"] = f"{postgres['concurrent_lifecycles_per_s']:.1f}"
    rounds, scale_per_client = scale_plan(quick)
    figures.update(scale_figures(measure_scale_pg(rounds, scale_per_client)))
    figures.update(measure_rss_pg(rss_cases(quick)))
    return figures


def scale_plan(quick: bool) -> tuple[int, int]:
    """Rounds per process count and lifecycles per client of the scale-out measurement."""
    return (1, 5) if quick else (3, 25)


def rss_cases(quick: bool) -> int:
    return 1_000 if quick else 10_000


def scale_figures(scale: dict[str, Any]) -> dict[str, str]:
    """The scale-out measurement as figures: the medians, their ratio, and what the clients cost in CPU."""
    one, two = scale["median"][1], scale["median"][2]
    runs = [run for n in (1, 2) for run in scale["runs"][n]]
    lifecycles = len(runs) * scale["clients"] * scale["per_client"]
    return {
        "http_concurrent_lifecycles_per_s_pg_1_process": f"{one:.1f}",
        "http_concurrent_lifecycles_per_s_pg_2_processes": f"{two:.1f}",
        "http_scale_2_processes_pg": f"{two / one:.2f}",
        # CPU per lifecycle: the client processes, and gunicorn's worker processes (the rest is PostgreSQL's).
        "http_clients_cpu_ms_per_lifecycle": f"{sum(run['clients_cpu_s'] for run in runs) / lifecycles * 1000:.1f}",
        "http_server_cpu_ms_per_lifecycle_pg": f"{sum(run['server_cpu_s'] for run in runs) / lifecycles * 1000:.1f}",
    }
