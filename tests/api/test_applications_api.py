"""The application endpoints end to end: success, validation, auth, tenancy, idempotency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent, UserAccount
from engine.platform.access import issue_user_token
from tests.api.conftest import Caller
from tests.conftest import application_input, cst, scalar


def _submit(callers, parties, clock, **overrides):
    response = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now(), **overrides))
    assert response.status_code == 201, response.json
    return response.json["reference"]


def test_a_bank_system_runs_the_whole_lifecycle(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    listed = callers.bank_a.get("/api/v1/applications?step=Accept").json
    assert [item["reference"] for item in listed["items"]] == [reference]
    assert listed["items"][0]["open_tasks"][0]["due_at"] == "2026-10-10T16:00:00+00:00"

    accepted = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {"note": "ok"})
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    approved = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 12})
    assert approved.json["status"] == "approved"
    assert (approved.json["approved_amount"], approved.json["annual_rate"]) == ("400000.00", "3.8500")
    disbursed = callers.bank_a.post(f"/api/v1/applications/{reference}/disbursement", {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": "2026-09-30",
        "account": "6222020200112233"})
    assert disbursed.json["disbursement_account"] == "************2233"
    clock.advance(hours=3)  # user tokens last 12 hours
    settled = callers.bank_a.post(f"/api/v1/applications/{reference}/settlement", {"settled_on": "2026-09-30"})
    assert settled.json["status"] == "settled" and settled.json["open_tasks"] == []

    seen = callers.enterprise.get(f"/api/v1/applications/{reference}").json
    assert seen["status"] == "settled" and seen["settled_on"] == "2026-09-30"


def test_an_officer_with_a_token_rejects_and_the_enterprise_sees_the_reason(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.officer_a.post(f"/api/v1/applications/{reference}/accept", {})
    rejected = callers.officer_a.post(f"/api/v1/applications/{reference}/decision",
                                      {"decision": "reject", "reason": "No collateral"})
    assert rejected.json["status"] == "rejected"
    assert callers.enterprise.get(f"/api/v1/applications/{reference}").json["rejection_reason"] == "No collateral"


def test_the_enterprise_withdraws_and_lists_its_own(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    withdrawn = callers.enterprise.post(f"/api/v1/applications/{reference}/withdraw", {"reason": "changed plans"})
    assert withdrawn.json["status"] == "withdrawn"
    assert [a["reference"] for a in callers.enterprise.get("/api/v1/applications").json["items"]] == [reference]
    assert callers.other_enterprise.get("/api/v1/applications").json["items"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": 500000}, "amount"),
    ({"amount": "500000.001"}, "amount"),
    ({"amount": "-5.00"}, "amount"),
    ({"term_months": "12"}, "term_months"),
    ({"purpose": ""}, "purpose"),
    ({"institution_id": None}, "institution_id"),
    ({"unexpected": 1}, "unexpected"),
])
def test_bad_submissions_get_422_with_the_field(callers, parties, clock, change, field):
    response = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now(), **change))
    assert response.status_code == 422
    assert field in response.json["errors"], response.json
    assert set(response.json) >= {"code", "message", "errors"}


def test_naive_times_are_refused(callers, parties, clock):
    data = application_input(parties, clock.now())
    data["authorization"]["granted_at"] = "2026-09-30T10:00:00"
    response = callers.enterprise.post("/api/v1/applications", data)
    assert response.status_code == 422 and "authorization.granted_at" in response.json["errors"]


def test_decision_validation(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    for body, field in (({"decision": "approve", "annual_rate": "3.85", "term_months": 12}, "amount"),
                        ({"decision": "reject"}, "reason"),
                        ({"decision": "maybe"}, "decision")):
        response = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", body)
        assert response.status_code == 422 and field in response.json["errors"], response.json


def test_taking_a_step_twice_is_a_409_with_the_current_status(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    again = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    assert again.status_code == 409
    assert again.json["code"] == "step_already_taken" and again.json["status"] == "accepted"
    early = callers.bank_a.post(f"/api/v1/applications/{reference}/settlement", {"settled_on": "2026-09-30"})
    assert early.status_code == 409 and early.json["code"] == "invalid_transition"


def test_without_credentials_every_endpoint_is_401(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    client = callers.anonymous
    for method, path in (("get", "/api/v1/applications"), ("get", f"/api/v1/applications/{reference}"),
                         ("post", f"/api/v1/applications/{reference}/accept"),
                         ("get", "/api/v1/supervision/breaches")):
        for headers in ({}, {"Authorization": "Bearer xyd_not-a-real-key"}, {"Authorization": "Basic abc"}):
            response = getattr(client, method)(path, headers=headers, json={})
            assert response.status_code == 401, (path, headers)
            assert response.json["code"] == "unauthenticated"


def test_another_institution_sees_nothing_and_gets_404(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    assert callers.bank_b.get("/api/v1/applications").json["items"] == []
    assert callers.bank_b.get(f"/api/v1/applications/{reference}").status_code == 404
    for step, body in (("accept", {}), ("decision", {"decision": "reject", "reason": "x"}),
                       ("settlement", {"settled_on": "2026-09-30"})):
        response = callers.bank_b.post(f"/api/v1/applications/{reference}/{step}", body)
        assert response.status_code == 404, step
    assert callers.other_enterprise.get(f"/api/v1/applications/{reference}").status_code == 404
    assert callers.other_enterprise.post(f"/api/v1/applications/{reference}/withdraw", {}).status_code == 404
    assert callers.enterprise.post(f"/api/v1/applications/{reference}/accept", {}).status_code == 404


def test_a_revoked_key_stops_working(callers, parties, clock, engine, app):
    from engine.platform.access import revoke_credential

    prefix = callers.bank_a.secret[:12]
    with engine.transaction() as session:
        assert revoke_credential(session, clock.now(), prefix) == 1
    assert callers.bank_a.get("/api/v1/applications").status_code == 401


def test_user_tokens_expire(callers, clock):
    clock.advance(hours=13)
    assert callers.officer_a.get("/api/v1/applications").status_code == 401


def test_pagination_with_a_cursor(callers, parties, clock):
    references = [_submit(callers, parties, clock) for _ in range(5)]
    first = callers.bank_a.get("/api/v1/applications?limit=2").json
    second = callers.bank_a.get(f"/api/v1/applications?limit=2&cursor={first['next_cursor']}").json
    third = callers.bank_a.get(f"/api/v1/applications?limit=2&cursor={second['next_cursor']}").json
    seen = [i["reference"] for page in (first, second, third) for i in page["items"]]
    assert seen == references and third["next_cursor"] is None


def test_filters_by_status_due_and_update(callers, parties, clock):
    old = _submit(callers, parties, clock)
    clock.advance(hours=2)
    new = _submit(callers, parties, clock)
    callers.bank_a.post(f"/api/v1/applications/{new}/accept", {})
    by_status = callers.bank_a.get("/api/v1/applications?status=submitted").json["items"]
    assert [i["reference"] for i in by_status] == [old]
    due = callers.bank_a.get("/api/v1/applications", query_string={
        "due_before": "2026-10-12T00:00:00+08:00"}).json["items"]
    assert [i["reference"] for i in due] == [old]
    since = callers.bank_a.get("/api/v1/applications", query_string={
        "updated_since": (clock.now() - timedelta(minutes=1)).isoformat()}).json["items"]
    assert [i["reference"] for i in since] == [new]
    bad = callers.bank_a.get("/api/v1/applications?status=lost")
    assert bad.status_code == 422 and "status" in bad.json["errors"]


def test_same_idempotency_key_and_body_replays_the_first_response(callers, parties, clock, engine):
    headers = {"Idempotency-Key": "submit-001"}
    body = application_input(parties, clock.now())
    first = callers.enterprise.post("/api/v1/applications", body, headers=headers)
    again = callers.enterprise.post("/api/v1/applications", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent)) == 1
    other = callers.enterprise.post("/api/v1/applications", {**body, "purpose": "other"}, headers=headers)
    assert other.status_code == 409 and other.json["code"] == "idempotency_key_reused"


def test_a_retried_step_with_its_key_replays_instead_of_failing(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    headers = {"Idempotency-Key": "accept-1"}
    first = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    retry = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    assert (first.status_code, retry.status_code) == (200, 200) and retry.json == first.json
    accepted = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "accepted"))
    assert accepted == 1


def test_two_identical_requests_at_once_make_one_event(app, callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    results = []
    barrier = threading.Barrier(2)

    def call():
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/applications/{reference}/accept", json={}, headers={
            "Authorization": f"Bearer {callers.bank_a.secret}", "Idempotency-Key": "same-key"})
        results.append((response.status_code, response.json))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [status for status, _ in results] == [200, 200]
    assert results[0][1] == results[1][1]
    accepted = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "accepted"))
    assert accepted == 1


def test_a_missed_deadline_shows_on_the_supervisors_ledger_and_scorecard(callers, parties, clock, engine):
    from engine.workflow.timers import sweep_due_timers

    reference = _submit(callers, parties, clock)
    clock.set(cst("2026-10-11 00:00"))
    sweep_due_timers(engine)
    supervisor = Caller(callers.anonymous, _fresh_token(engine, "supervisor"))
    breaches = supervisor.get("/api/v1/supervision/breaches?open=true").json["items"]
    assert [(b["application"], b["kind"]) for b in breaches] == [(reference, "accept")]
    card = supervisor.get(f"/api/v1/supervision/institutions/{parties.bank_a_id}/scorecard").json
    assert card["open_breaches"] == 1 and card["applications"] == 1
    assert card["on_time_acceptance_rate"] is None  # nothing accepted yet
    assert callers.bank_a.get("/api/v1/supervision/breaches").status_code == 404
    assert supervisor.get("/api/v1/supervision/institutions/999/scorecard").status_code == 404


def _fresh_token(engine, username):
    with engine.transaction() as session:
        user = session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).one()
        return issue_user_token(session, engine.clock.now(), user)[0]


def test_nul_characters_are_refused_not_a_server_error(callers, parties, clock):
    # PostgreSQL cannot store NUL; the fuzzer found this as a 500 on PostgreSQL.
    data = application_input(parties, clock.now(), purpose="a\x00b")
    assert callers.enterprise.post("/api/v1/applications", data).status_code == 400
    assert callers.anonymous.post("/api/v1/tokens", json={"username": "a\x00", "password": "x"}).status_code == 400
    assert callers.bank_a.get("/api/v1/applications?status=%00").status_code == 400
    assert callers.bank_a.get("/api/v1/applications/LA%00X").status_code == 400


def test_reads_by_an_institution_are_recorded_and_others_are_not(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    views = sa.select(AuditEvent.actor, AuditEvent.detail).where(AuditEvent.action == "viewed")
    callers.enterprise.get(f"/api/v1/applications/{reference}")
    callers.supervisor.get("/api/v1/applications")
    callers.bank_b.get("/api/v1/applications")  # sees nothing, so nothing is disclosed
    with engine.transaction() as session:
        assert session.execute(views).all() == []
    assert callers.bank_a.get(f"/api/v1/applications/{reference}").status_code == 200
    assert callers.bank_a.get("/api/v1/applications").status_code == 200
    with engine.transaction() as session:
        recorded = session.execute(views).all()
    assert len(recorded) == 2 and all(detail == {"via": "api"} for _actor, detail in recorded)
    assert all(actor.startswith("system:A:") for actor, _detail in recorded)
