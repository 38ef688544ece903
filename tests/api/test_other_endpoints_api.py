"""Tokens, process definitions and instances, the OpenAPI document and the docs page."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import ProcessDefinition
from engine.workflow.definitions import BPMN_DIR
from tests.conftest import application_input, scalar

LOAN_XML = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")


def test_a_user_signs_in_for_a_token_and_uses_it(app, engine):
    from engine.loans.actors import SUPERVISOR
    from engine.platform.access import create_user

    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "sup", "long-enough-password", SUPERVISOR)
    client = app.test_client()
    response = client.post("/api/v1/tokens", json={"username": "sup", "password": "long-enough-password"})
    assert response.status_code == 201 and response.json["token"].startswith("xyd_")
    token = response.json["token"]
    listed = client.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    for body in ({"username": "sup", "password": "wrong"}, {"username": "nobody", "password": "x"}):
        refused = client.post("/api/v1/tokens", json=body)
        assert refused.status_code == 401 and "password" not in refused.json
    assert client.post("/api/v1/tokens", json={"username": "sup"}).status_code == 422


def test_an_author_deploys_a_new_version_and_others_cannot(callers, engine):
    changed = LOAN_XML.replace("decision_paused_working_days = 0",
                               "decision_paused_working_days = 0\naccept_working_days = 4")
    for outsider in (callers.bank_a, callers.enterprise, callers.officer_a):
        assert outsider.post("/api/v1/process-definitions", {"bpmn_xml": changed}).status_code == 404
    deployed = callers.author.post("/api/v1/process-definitions", {"bpmn_xml": changed})
    assert deployed.status_code == 201 and deployed.json["version"] == 2
    listed = callers.supervisor.get("/api/v1/process-definitions").json
    assert [(d["key"], d["version"]) for d in listed if d["key"] == "loan_lifecycle"] == [
        ("loan_lifecycle", 2), ("loan_lifecycle", 1)]
    assert callers.author.get("/api/v1/process-definitions/loan_lifecycle/2").json["deployed_by"] == "author"
    assert callers.author.get("/api/v1/process-definitions/loan_lifecycle/9").status_code == 404


def test_a_bad_model_is_refused_with_a_message(callers, engine):
    bad = callers.author.post("/api/v1/process-definitions", {"bpmn_xml": "<definitions/>"})
    assert bad.status_code == 422 and bad.json["code"] == "model_error" and bad.json["message"]
    evil = LOAN_XML.replace("decision_paused_working_days = 0", "accept_working_days = __import__('os')")
    refused = callers.author.post("/api/v1/process-definitions", {"bpmn_xml": evil})
    assert refused.status_code == 422 and "__import__" in refused.json["message"]
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessDefinition).where(
        ProcessDefinition.key == "loan_lifecycle")) == 1


def test_instances_are_listed_and_read_without_their_state(callers, parties, clock):
    callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now()))
    page = callers.supervisor.get("/api/v1/process-definitions/loan_lifecycle/1/instances").json
    [instance] = page["items"]
    assert instance["status"] == "running" and "state" not in instance
    one = callers.author.get(f"/api/v1/process-definitions/instances/{instance['id']}").json
    assert (one["key"], one["definition_version"]) == ("loan_lifecycle", 1)
    assert callers.bank_a.get(f"/api/v1/process-definitions/instances/{instance['id']}").status_code == 404


def test_the_openapi_document_and_the_docs_page(app):
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").json
    assert spec["info"]["version"] == "v1" and "/api/v1/applications/{reference}/decision" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "/api/v1/applications/{reference}/accept" in page.get_data(as_text=True)


def test_password_guessing_is_slowed_down_with_429(app, engine, clock):
    from engine.loans.actors import SUPERVISOR
    from engine.platform.access import create_user

    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "sup", "long-enough-password", SUPERVISOR)
    guesser, owner = app.test_client(), app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for _ in range(3):
        assert guesser.post("/api/v1/tokens", json={"username": "sup", "password": "guess"}).status_code == 401
    blocked = guesser.post("/api/v1/tokens", json={"username": "sup", "password": "long-enough-password"})
    assert blocked.status_code == 429 and blocked.json["code"] == "rate_limited"
    assert blocked.headers["Retry-After"] == "1"
    assert owner.post("/api/v1/tokens", json={"username": "sup", "password": "long-enough-password"}).status_code == 201
    clock.advance(seconds=1)
    again = guesser.post("/api/v1/tokens", json={"username": "sup", "password": "long-enough-password"})
    assert again.status_code == 201
