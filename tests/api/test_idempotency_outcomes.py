"""What is kept under an Idempotency-Key: results and lasting refusals, never a transient conflict."""

from __future__ import annotations

import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, IdempotencyRecord
from engine.workflow.errors import ConcurrencyConflict
from tests.conftest import application_input, scalar


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
