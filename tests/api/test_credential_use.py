"""A credential's use is noted once per few minutes, also when authentication happens inside a step."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from engine.models import ApiCredential, IdempotencyRecord
from engine.platform.access import LAST_USED_RESOLUTION, revoke_credential
from tests.conftest import application_input, scalar


def _last_used(engine, secret):
    prefix = secret[:12]
    return scalar(engine, sa.select(ApiCredential.last_used_at).where(ApiCredential.prefix == prefix))


def _submit(callers, parties, clock, key):
    response = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now()),
                                       headers={"Idempotency-Key": key})
    assert response.status_code == 201
    return response.json["reference"]


def test_a_step_with_an_idempotency_key_notes_the_credentials_use_after_it(callers, parties, clock, engine):
    assert _last_used(engine, callers.bank_a.secret) is None
    reference = _submit(callers, parties, clock, "submit-1")
    accepted = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {},
                                   headers={"Idempotency-Key": "accept-1"})
    assert accepted.status_code == 200
    first = _last_used(engine, callers.bank_a.secret)
    assert first is not None
    assert abs(first.replace(tzinfo=None) - clock.now().replace(tzinfo=None)) < timedelta(seconds=1)

    clock.advance(seconds=LAST_USED_RESOLUTION.total_seconds() / 2)  # within the resolution: no write
    assert callers.bank_a.get(f"/api/v1/applications/{reference}").status_code == 200
    assert _last_used(engine, callers.bank_a.secret) == first

    clock.advance(seconds=LAST_USED_RESOLUTION.total_seconds())
    second = _submit(callers, parties, clock, "submit-2")
    decided = callers.bank_a.post(f"/api/v1/applications/{second}/accept", {},
                                  headers={"Idempotency-Key": "accept-2"})
    assert decided.status_code == 200
    assert _last_used(engine, callers.bank_a.secret) > first


def test_a_revoked_key_inside_an_idempotent_step_is_refused_and_keeps_nothing(callers, parties, clock, engine):
    reference = _submit(callers, parties, clock, "submit-1")
    with engine.transaction() as session:
        assert revoke_credential(session, clock.now(), callers.bank_a.secret[:12]) == 1
    refused = callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {},
                                  headers={"Idempotency-Key": "accept-1"})
    assert refused.status_code == 401
    kept = scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)
                  .where(IdempotencyRecord.key == "accept-1"))
    assert kept == 0
    assert callers.enterprise.get(f"/api/v1/applications/{reference}").json["status"] == "submitted"
