"""Full lifecycles over HTTP against the production server setups.

For SQLite and for PostgreSQL, one waitress process with 8 threads (`make run`'s server): one
sequential client (per-step latencies), then 8 concurrent clients (threads of this process). Each
client keeps one HTTP connection open per party and sends an Idempotency-Key with every
state-changing call, as a bank's system would (examples/bank_system.py).

Then the several-process recipe on PostgreSQL and a worker's memory: bench/http_scale.py.
"""

from __future__ import annotations

import base64
import http.client
import json
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
    from bench.http_scale import measure_rss_pg, measure_scale_pg, rss_cases, scale_figures, scale_plan

    rounds, scale_per_client = scale_plan(quick)
    figures.update(scale_figures(measure_scale_pg(rounds, scale_per_client)))
    figures.update(measure_rss_pg(rss_cases(quick)))
    return figures
