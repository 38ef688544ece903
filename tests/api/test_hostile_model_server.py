"""A hostile script in a model does not freeze the web server: its request fails, others are served."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from engine.models import LoanApplication
from engine.workflow.definitions import deploy
from tests.api.test_crash_idempotency import _start, enterprise_token  # noqa: F401 - fixture
from tests.conftest import application_input, scalar
from tests.engine.hostile_models import POISONS, SHIPPED


def _model_poisoned_at_submission(script: str) -> str:
    xml = SHIPPED.read_text(encoding="utf-8")
    poisoned = xml.replace("<spiffworkflow:postScript>decision_paused_working_days = 0",
                           f"<spiffworkflow:postScript>{script}\ndecision_paused_working_days = 0", 1)
    assert poisoned != xml
    return poisoned


@pytest.mark.parametrize("poison", ["c_level_loop", "huge_allocation", "huge_power", "huge_format_width"])
def test_a_hostile_submission_script_fails_alone_while_the_server_keeps_answering(
        engine, parties, database_url, enterprise_token, tmp_path, poison):  # noqa: F811 - fixture
    with engine.transaction() as session:
        deploy(session, _model_poisoned_at_submission(POISONS[poison]), "author", engine.clock)
    server, base = _start(database_url, tmp_path)
    outcome: dict = {}

    def submit() -> None:
        body = json.dumps(application_input(parties, datetime.now(UTC))).encode()
        request = urllib.request.Request(f"{base}/api/v1/applications", data=body, method="POST", headers={
            "Authorization": f"Bearer {enterprise_token}", "Content-Type": "application/json"})
        started = time.monotonic()
        try:
            urllib.request.urlopen(request, timeout=60)
            outcome["status"] = 201
        except urllib.error.HTTPError as error:
            outcome["status"], outcome["body"] = error.code, json.loads(error.read())
        outcome["seconds"] = time.monotonic() - started

    try:
        hostile = threading.Thread(target=submit)
        hostile.start()
        time.sleep(0.2)
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=10) as response:
            assert response.status == 200
        assert time.monotonic() - started < 5
        hostile.join(timeout=60)
    finally:
        server.kill()
        server.wait(timeout=30)
    assert outcome["status"] == 422, outcome
    assert outcome["body"]["code"] in ("model_error", "script_refused")
    assert outcome["seconds"] < 10
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0  # nothing half-made
