"""System admins' tools list incidents and retry them over the API; nobody else sees them."""

from __future__ import annotations

import pytest

from engine.loans import binding
from engine.loans.actors import ENTERPRISE, OFFICER, SUPERVISOR
from engine.platform.access import PROCESS_AUTHOR, SYSTEM_ADMIN, create_institution_key, create_user, issue_user_token
from tests.api.conftest import Caller
from tests.web.test_admin_incidents import BROKEN_MESSAGE, park_a_case, the_incident


def _token(app, engine, username: str, role: str, **party) -> Caller:
    """A user token issued now: after the clock has passed the deadline, so that it is still valid."""
    with engine.transaction() as session:
        user = create_user(session, engine.clock.now(), username, "long-enough-password", role, **party)
        return Caller(app.test_client(), issue_user_token(session, engine.clock.now(), user)[0])


@pytest.fixture
def reference(engine, submit, clock):
    return park_a_case(engine, submit, clock)


@pytest.fixture
def admin(app, engine, reference) -> Caller:
    return _token(app, engine, "admin", SYSTEM_ADMIN)


def test_admins_list_open_incidents_with_their_case_and_error(admin, engine, reference):
    response = admin.get("/api/v1/incidents")
    assert response.status_code == 200
    [incident] = response.json
    assert incident["id"] == the_incident(engine).id
    assert (incident["reference"], incident["process_key"], incident["process_version"]) == (
        reference, "loan_lifecycle", 2)
    assert (incident["kind"], incident["activity"], incident["error_type"], incident["message"]) == (
        "timer", "Record_Accept_Breach", "ModelError", BROKEN_MESSAGE)
    assert (incident["failures"], incident["state"], incident["resolved_at"]) == (1, "open", None)
    assert incident["next_retry_at"] == "2026-10-10T16:01:00+00:00"


def test_the_list_is_limited_and_the_limit_checked(admin, reference):
    assert admin.get("/api/v1/incidents?limit=1").status_code == 200
    for bad in ("0", "201", "x"):
        refused = admin.get(f"/api/v1/incidents?limit={bad}")
        assert refused.status_code == 422 and "limit" in refused.json["errors"]


def test_a_retry_on_the_broken_model_fails_again_and_counts_it(admin, engine, reference):
    incident_id = the_incident(engine).id
    response = admin.post(f"/api/v1/incidents/{incident_id}/retry")
    assert response.status_code == 200
    assert response.json["resolved"] is False
    assert (response.json["incident"]["failures"], response.json["incident"]["state"]) == (2, "open")
    assert response.json["incident"]["next_retry_at"] == "2026-10-10T16:02:00+00:00"
    assert the_incident(engine).failures == 2


def test_a_retry_resolves_the_incident_once_the_failing_service_works(app, engine, submit, clock, monkeypatch):
    monkeypatch.setattr(binding, "record_breach", lambda operation, task, kind: {}["missing"])
    park_a_case(engine, submit, clock, model=None)
    monkeypatch.undo()
    admin = _token(app, engine, "admin", SYSTEM_ADMIN)
    incident_id = the_incident(engine).id
    response = admin.post(f"/api/v1/incidents/{incident_id}/retry")
    assert response.status_code == 200 and response.json["resolved"] is True
    assert response.json["incident"]["state"] == "resolved"
    assert response.json["incident"]["resolved_by"] == "admin"
    assert admin.get("/api/v1/incidents").json == []
    again = admin.post(f"/api/v1/incidents/{incident_id}/retry")
    assert again.status_code == 404 and again.json["code"] == "not_found"


def test_a_repeated_retry_with_the_same_idempotency_key_runs_once(admin, engine, reference):
    incident_id = the_incident(engine).id
    headers = {"Idempotency-Key": "retry-1"}
    first = admin.post(f"/api/v1/incidents/{incident_id}/retry", headers=headers)
    second = admin.post(f"/api/v1/incidents/{incident_id}/retry", headers=headers)
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json == first.json
    assert the_incident(engine).failures == 2


def test_everyone_but_system_admins_gets_404_and_changes_nothing(app, engine, parties, reference):
    incident_id = the_incident(engine).id
    with engine.transaction() as session:
        bank_key = create_institution_key(session, engine.clock.now(), "A", "core banking", "admin")[0]
    outsiders = [Caller(app.test_client(), bank_key), _token(app, engine, "supervisor", SUPERVISOR),
                 _token(app, engine, "author", PROCESS_AUTHOR),
                 _token(app, engine, "officer-a", OFFICER, institution_id=parties.bank_a_id),
                 _token(app, engine, "ent-user", ENTERPRISE, enterprise_id=parties.enterprise.enterprise_id)]
    for caller in outsiders:
        assert caller.get("/api/v1/incidents").status_code == 404
        assert caller.post(f"/api/v1/incidents/{incident_id}/retry").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/incidents").status_code == 401
    assert anonymous.post(f"/api/v1/incidents/{incident_id}/retry").status_code == 401
    assert the_incident(engine).failures == 1


def test_the_openapi_document_describes_the_incident_endpoints(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert "get" in spec["paths"]["/api/v1/incidents"]
    assert "post" in spec["paths"]["/api/v1/incidents/{incident_id}/retry"]
