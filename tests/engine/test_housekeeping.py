"""Abandoned idempotency claims are taken over; short-lived records are purged on schedule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine import idempotency
from engine.access import check_login, create_user, issue_user_token
from engine.errors import ConcurrencyConflict
from engine.housekeeping import Purged, purge_expired
from engine.loans.actors import OFFICER
from engine.models import ApiCredential, IdempotencyRecord, LoginFailure
from tests.conftest import scalar


@pytest.fixture
def token_id(engine, parties):
    with engine.transaction() as session:
        user = create_user(session, engine.clock.now(), "officer-x", "long-enough-password", OFFICER,
                           institution_id=parties.bank_a_id)
        return issue_user_token(session, engine.clock.now(), user)[1].id


def test_a_fresh_claim_in_progress_makes_a_retry_wait_then_give_up(engine, token_id, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    assert idempotency.claim(engine, token_id, "k1", "hash") is None
    with pytest.raises(ConcurrencyConflict):
        idempotency.claim(engine, token_id, "k1", "hash")


def test_an_abandoned_claim_is_taken_over_by_the_next_retry(engine, clock, token_id, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    assert idempotency.claim(engine, token_id, "k1", "hash") is None  # its process then died
    clock.advance(minutes=3)
    assert idempotency.claim(engine, token_id, "k1", "hash") is None  # taken over: run the request
    with pytest.raises(ConcurrencyConflict):  # and the take-over is itself a fresh claim
        idempotency.claim(engine, token_id, "k1", "hash")
    idempotency.store(engine, token_id, "k1", 200, {"ok": True})
    assert idempotency.claim(engine, token_id, "k1", "hash") == idempotency.StoredResponse(200, {"ok": True})


def test_purge_keeps_what_is_recent_and_forgets_the_rest(engine, clock, token_id):
    idempotency.claim(engine, token_id, "old", "hash")
    idempotency.store(engine, token_id, "old", 201, {})
    with engine.transaction() as session:
        assert check_login(session, clock.now(), "officer-x", "wrong") is None
    clock.advance(hours=23)
    idempotency.claim(engine, token_id, "new", "hash")
    with engine.transaction() as session:
        assert check_login(session, clock.now(), "officer-x", "wrong") is None

    clock.advance(hours=2)  # "old" is 25 hours old, "new" 2 hours; the 12-hour token expired 13 hours ago
    assert purge_expired(engine) == Purged(1, 2, 0)
    assert scalar(engine, sa.select(IdempotencyRecord.key)) == "new"
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoginFailure)) == 0

    clock.advance(hours=12)  # the token is now more than a day past its expiry: it goes, with its records
    assert purge_expired(engine) == Purged(1, 0, 1)
    assert scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(ApiCredential)) == 0


def test_live_tokens_and_their_records_stay(engine, clock, token_id):
    idempotency.claim(engine, token_id, "k", "hash")
    clock.advance(hours=1)
    assert purge_expired(engine) == Purged(0, 0, 0)
    assert scalar(engine, sa.select(sa.func.count()).select_from(ApiCredential)) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 1
