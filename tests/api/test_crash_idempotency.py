"""A server killed (SIGKILL) between the commit and the response: the retry gets the first result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.loans.actors import ENTERPRISE
from engine.models import LoanApplication
from engine.platform.access import create_user, issue_user_token
from tests.conftest import application_input, rows, scalar

ROOT = Path(__file__).resolve().parents[2]


def _start(database_url: str, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp_path / "port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "tests.api.crash_server", database_url, str(port_file),
                               str(tmp_path / "kill-after-commit")], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port_file.read_text()}"


def _post(base: str, path: str, token: str, body: dict, key: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def enterprise_token(engine, parties):
    with engine.transaction() as session:
        user = create_user(session, engine.clock.now(), "ent-user", "long-enough-password", ENTERPRISE,
                           enterprise_id=parties.enterprise.enterprise_id)
        return issue_user_token(session, datetime.now(UTC), user)[0]


def test_a_submit_whose_server_died_after_commit_is_answered_once_on_retry(
        engine, parties, database_url, enterprise_token, tmp_path):
    body = application_input(parties, datetime.now(UTC))
    (tmp_path / "kill-after-commit").touch()
    server, base = _start(database_url, tmp_path)
    try:
        with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
            _post(base, "/api/v1/applications", enterprise_token, body, "submit-1")
        assert server.wait(timeout=30) == -9  # really killed by SIGKILL
    finally:
        server.kill()
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 1  # it had committed

    (tmp_path / "kill-after-commit").unlink()
    server, base = _start(database_url, tmp_path)
    try:
        status, first, headers = _post(base, "/api/v1/applications", enterprise_token, body, "submit-1")
        again, second, _ = _post(base, "/api/v1/applications", enterprise_token, body, "submit-1")
    finally:
        server.kill()
        server.wait(timeout=30)
    assert status == 201 and headers.get("Idempotent-Replayed") == "true"
    assert second == first and again == 201
    references = [r for (r,) in rows(engine, sa.select(LoanApplication.reference))]
    assert references == [first["reference"]]
