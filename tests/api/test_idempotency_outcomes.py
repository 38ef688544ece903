"""What is kept under an Idempotency-Key: results and lasting refusals, never a transient conflict."""

from __future__ import annotations

import hashlib
import threading

import sqlalchemy as sa

from engine.loans import services
from engine.models import ApiCredential, AuditEvent, IdempotencyRecord, LoanApplication, OutboxMessage
from engine.workflow.errors import ConcurrencyConflict
from tests.conftest import application_input, rows, scalar


def _submit(callers, parties, clock):
    return callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]


def test_a_transient_conflict_is_retried_then_answered_409_and_not_kept(callers, parties, clock, engine,
                                                                         monkeypatch):
    reference = _submit(callers, parties, clock)
    real, calls = services.accept, []

    def always_conflicting(*args, **kwargs):
        calls.append(1)
        raise ConcurrencyConflict("The application was changed by someone else at the same time")

    monkeypatch.setattr(services, "accept", always_conflicting)
    headers = {"Idempotency-Key": "accept-7"}
    refused = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    assert refused.status_code == 409 and refused.json["code"] == "conflict"
    assert len(calls) == 4  # the whole request ran again, a bounded number of times
    assert scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0

    monkeypatch.setattr(services, "accept", real)
    retried = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
    assert retried.json["status"] == "accepted"


def test_a_lasting_refusal_is_kept_and_replayed(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    headers = {"Idempotency-Key": "settle-too-early"}
    body = {"settled_on": "2026-09-30"}
    first = callers.bank_a.post(f"/api/v1/applications/{reference}/settlement", body, headers=headers)
    assert first.status_code == 409 and first.json["code"] == "invalid_transition"
    callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    again = callers.bank_a.post(f"/api/v1/applications/{reference}/settlement", body, headers=headers)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["code"] == first.json["code"] and again.json["message"] == first.json["message"]


def test_a_refused_step_writes_nothing_but_its_kept_answer(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    events = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent))
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 12},
        headers={"Idempotency-Key": "decide-before-accept"})
    assert response.status_code == 409
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent)) == events
    assert scalar(engine, sa.select(IdempotencyRecord.state)) == "done"


def test_the_same_submission_twice_at_once_makes_one_application_and_one_answer(app, callers, parties, clock,
                                                                              engine):
    """Nothing in a submission locks a row both requests need: the second one's work runs too, finds the
    key taken when it keeps its answer, is rolled back and replays the first one's."""
    body = application_input(parties, clock.now())
    barrier, results = threading.Barrier(2), []

    def call():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/applications", json=body, headers={
            "Authorization": f"Bearer {callers.enterprise.secret}", "Idempotency-Key": "submit-once"})
        results.append((response.status_code, response.json, response.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _, _ in results) == [201, 201]
    assert results[0][1] == results[1][1]
    assert sorted(str(replayed) for _, _, replayed in results) == ["None", "true"]
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "submitted")) == 1


def test_a_key_reused_with_another_body_leaves_nothing_of_the_second_request(callers, parties, clock, engine):
    headers = {"Idempotency-Key": "submit-reused"}
    body = application_input(parties, clock.now())
    assert callers.enterprise.post("/api/v1/applications", body, headers=headers).status_code == 201
    messages = scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage))
    other = callers.enterprise.post("/api/v1/applications", {**body, "amount": "1000.00"}, headers=headers)
    assert other.status_code == 409 and other.json["code"] == "idempotency_key_reused"
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage)) == messages


def test_a_record_left_half_done_by_an_older_version_is_run_and_completed(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock)
    credential = scalar(engine, sa.select(ApiCredential.id).where(ApiCredential.institution_id == parties.bank_a_id))
    request_hash = hashlib.sha256(f"POST/api/v1/applications/{reference}/accept{{}}".encode()).hexdigest()
    with engine.transaction() as session:
        session.add(IdempotencyRecord(credential_id=credential, key="accept-half", request_hash=request_hash,
                                      state="in_progress", created_at=clock.now()))
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {},
                                   headers={"Idempotency-Key": "accept-half"})
    assert response.status_code == 200 and response.json["status"] == "accepted"
    assert "Idempotent-Replayed" not in response.headers
    record = rows(engine, sa.select(IdempotencyRecord.state, IdempotencyRecord.status_code))
    assert record == [("done", 200)]
    again = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {},
                                headers={"Idempotency-Key": "accept-half"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == response.json


def test_a_retry_of_an_answered_step_replays_it_even_when_its_second_run_meets_a_conflict(
        callers, parties, clock, engine, monkeypatch):
    """The work runs before the key is looked at; a retry that meets a transient refusal (here a conflict
    that never clears) is still answered with the step's kept response, not with the refusal."""
    reference = _submit(callers, parties, clock)
    headers = {"Idempotency-Key": "accept-then-conflict"}
    first = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    assert first.status_code == 200

    def always_conflicting(*args, **kwargs):
        raise ConcurrencyConflict("The application was changed by someone else at the same time")

    monkeypatch.setattr(services, "accept", always_conflicting)
    retry = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json


def test_a_key_taken_and_purged_on_every_attempt_is_a_409_and_the_step_is_not_taken(callers, parties, clock,
                                                                                   engine, monkeypatch):
    from engine.platform import idempotency

    reference = _submit(callers, parties, clock)
    kept = []

    def taken_then_purged(*args, **kwargs):  # another request holds the key, and it is purged before it is read
        kept.append(1)
        return False

    monkeypatch.setattr(idempotency, "keep", taken_then_purged)
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {},
                                   headers={"Idempotency-Key": "purged-each-time"})
    assert response.status_code == 409 and response.json["code"] == "conflict"
    assert len(kept) == 4
    assert scalar(engine, sa.select(LoanApplication.status)) == "submitted"
