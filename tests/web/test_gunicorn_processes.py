"""The several-process recipe (web/gunicorn_config.py): two gunicorn workers serve a whole lifecycle."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from bench.http_api import answers_healthz, children_of, free_port
from config import TestingConfig
from engine.loans.actors import ENTERPRISE
from engine.models import Institution
from engine.platform.access import create_institution_key, create_user, issue_user_token
from tests.conftest import application_input

ROOT = Path(__file__).resolve().parents[2]


def _call(port: int, method: str, path: str, secret: str, body: dict | None = None,
          key: str | None = None) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}"), dict(response.getheaders())
    finally:
        connection.close()


def _wait_until_up(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, f"gunicorn exited: {log.read_text()[-3000:]}"
        if answers_healthz(port):
            return
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer /healthz within 60 s: {log.read_text()[-3000:]}")


def test_two_gunicorn_processes_serve_a_whole_lifecycle_and_stop_cleanly(engine, parties, database_url, tmp_path):
    now = datetime.now(UTC)
    with engine.transaction() as session:
        user = create_user(session, now, "ent-user", "long-enough-password", ENTERPRISE,
                           enterprise_id=parties.enterprise.enterprise_id)
        enterprise = issue_user_token(session, now, user)[0]
        code = session.get(Institution, parties.bank_a_id).code
        bank = create_institution_key(session, now, code, "core banking", "admin")[0]

    port, log = free_port(), tmp_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development", "LOAD_DEMO_DATA": "0",
           "SCHEDULER_ENABLED": "0", "WEB_PROCESSES": "2", "WEB_THREADS": "4", "PORT": str(port),
           # shared by both workers; the personal-data keys derive from it as in this test process
           "SECRET_KEY": TestingConfig.SECRET_KEY}
    with log.open("wb") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_config",
                                   "web:create_app()"], cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
    try:
        _wait_until_up(server, port, log)
        deadline = time.monotonic() + 30
        while len(workers := set(children_of(server.pid))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, workers
        time.sleep(0.5)
        assert set(children_of(server.pid)) == workers  # none died and was replaced

        body = application_input(parties, now)
        status, submitted, _ = _call(port, "POST", "/api/v1/applications", enterprise, body, key="submit-1")
        assert status == 201, submitted
        reference = submitted["reference"]
        # The same key again, possibly answered by the other worker: the kept first response.
        status, again, headers = _call(port, "POST", "/api/v1/applications", enterprise, body, key="submit-1")
        assert status == 201 and again == submitted and headers.get("Idempotent-Replayed") == "true"

        today = now.astimezone(timezone(timedelta(hours=8))).date().isoformat()
        for step, step_body, expected in (
                ("accept", {}, "accepted"),
                ("decision", {"decision": "approve", "amount": "400000.00", "annual_rate": "3.85",
                              "term_months": 12}, "approved"),
                ("disbursement", {"contract_number": "HT-1", "amount": "400000.00", "disbursed_on": today},
                 "disbursed"),
                ("settlement", {"settled_on": today}, "settled")):
            status, answer, _ = _call(port, "POST", f"/api/v1/applications/{reference}/{step}", bank, step_body,
                                      key=uuid.uuid4().hex)
            assert status == 200 and answer["status"] == expected, (step, status, answer)
        status, seen, _ = _call(port, "GET", f"/api/v1/applications/{reference}", bank)
        assert status == 200 and seen["status"] == "settled" and seen["open_tasks"] == []
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            returncode = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
    assert returncode == 0, log.read_text()[-3000:]
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # the workers went with the master
    text = log.read_text()
    assert "Traceback" not in text and "[ERROR]" not in text, text[-3000:]
