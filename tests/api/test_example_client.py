"""The example bank system runs end to end against a real HTTP server."""

from __future__ import annotations

import importlib.util
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.loans.actors import ENTERPRISE
from engine.platform.access import create_institution_key, create_user
from web import create_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bank_system.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("bank_system", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server(engine, database_url, parties, clock):
    clock.set(datetime.now(UTC))  # the example reports today's dates
    app = create_app({"TESTING": True, "DATABASE_URL": database_url}, engine=engine)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def test_the_example_bank_system_takes_every_step(server, engine, parties):
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "enterprise", "demo-password", ENTERPRISE,
                    enterprise_id=parties.enterprise.enterprise_id)
        key = create_institution_key(session, engine.clock.now(), "A", "example", "test")[0]
    example = _load_example()
    reference = example.submit_demo_application(server, "enterprise", "demo-password")
    bank = example.Client(server, key)
    steps = 0
    while taken := example.work_once(bank):
        steps += taken
    assert steps == 4
    final = bank.call("GET", f"/api/v1/applications/{reference}")
    assert final["status"] == "settled"
    with pytest.raises(example.ApiError) as refused:
        example.Client(server, "xyd_wrong").call("GET", "/api/v1/applications")
    assert refused.value.status == 401
