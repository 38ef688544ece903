"""Full lifecycles over HTTP against the production server setup (waitress, 8 threads).

For SQLite and for PostgreSQL: one sequential client (per-step latencies), then 8 concurrent
clients. Each client keeps one HTTP connection open and sends an Idempotency-Key with every
state-changing call, as a bank's system would (examples/bank_system.py).
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


def _free_port() -> int:
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


def _reset_postgres_database() -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_http")
        conn.execute("CREATE DATABASE bench_http")


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


def run_backend(label: str, url: str, env_overrides: dict[str, str], sequential: int, per_client: int,
                clients: int = 8) -> dict[str, float]:
    token, key = _prepare_database(url)
    port = _free_port()
    log = tempfile.TemporaryFile()  # the server's log, shown if it fails to start
    env = {**os.environ, "DATABASE_URL": url, "SCHEDULER_ENABLED": "0", "LOAD_DEMO_DATA": "0", **env_overrides}
    server = subprocess.Popen(
        [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8", "--call",
         "web:create_app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_until_up(port, server, log)
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
    finally:
        server.terminate()
        server.wait(timeout=30)
    quantiles = statistics.quantiles(steps, n=20)
    return {
        "lifecycles_per_s": sequential_rate,
        "step_p50_ms": statistics.median(steps) * 1000,
        "step_p95_ms": quantiles[18] * 1000,
        "concurrent_lifecycles_per_s": concurrent_rate,
    }


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
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


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
    _reset_postgres_database()
    postgres = run_backend("postgresql", POSTGRES_BENCH_URL, production_environment(), sequential, per_client)
    figures["http_lifecycles_per_s"] = f"{sqlite['lifecycles_per_s']:.1f}"
    figures["http_step_p50_ms"] = f"{sqlite['step_p50_ms']:.1f}"
    figures["http_step_p95_ms"] = f"{sqlite['step_p95_ms']:.1f}"
    figures["http_concurrent_lifecycles_per_s"] = f"{sqlite['concurrent_lifecycles_per_s']:.1f}"
    figures["http_lifecycles_per_s_postgresql"] = f"{postgres['lifecycles_per_s']:.1f}"
    figures["http_step_p50_ms_postgresql"] = f"{postgres['step_p50_ms']:.1f}"
    figures["http_step_p95_ms_postgresql"] = f"{postgres['step_p95_ms']:.1f}"
    figures["http_concurrent_lifecycles_per_s_postgresql"] = f"{postgres['concurrent_lifecycles_per_s']:.1f}"
    return figures
