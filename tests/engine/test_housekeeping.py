"""Idempotency claims commit with their response or not at all; short-lived records are purged on schedule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans.actors import OFFICER
from engine.models import ApiCredential, IdempotencyRecord, LoginFailure
from engine.models.access import SigninSource, WebSession
from engine.platform import idempotency
from engine.platform.access import check_login, create_user, end_web_session, issue_user_token, open_web_session
from engine.platform.housekeeping import Purged, purge_expired
from tests.conftest import scalar


@pytest.fixture
def token_id(engine, parties):
    with engine.transaction() as session:
        user = create_user(session, engine.clock.now(), "officer-x", "long-enough-password", OFFICER,
                           institution_id=parties.bank_a_id)
        return issue_user_token(session, engine.clock.now(), user)[1].id


def _claim(engine, token_id, key, request_hash="hash"):
    with engine.transaction() as session:
        return idempotency.claim(session, engine.clock.now(), token_id, key, request_hash)


def _store(engine, token_id, key, status, body):
    with engine.transaction() as session:
        idempotency.store(session, token_id, key, status, body)


def test_a_claim_that_never_committed_leaves_nothing_behind(engine, token_id):
    with pytest.raises(RuntimeError):
        with engine.transaction() as session:
            assert idempotency.claim(session, engine.clock.now(), token_id, "k1", "hash") is None
            raise RuntimeError("the request failed before its commit")
    assert _claim(engine, token_id, "k1") is None  # the retry runs the request


def test_a_kept_response_is_replayed_and_another_body_is_refused(engine, token_id):
    with engine.transaction() as session:
        assert idempotency.claim(session, engine.clock.now(), token_id, "k1", "hash") is None
        idempotency.store(session, token_id, "k1", 200, {"ok": True})
    assert _claim(engine, token_id, "k1") == idempotency.StoredResponse(200, {"ok": True})
    with pytest.raises(idempotency.IdempotencyKeyReused):
        _claim(engine, token_id, "k1", "another body")


def test_purge_keeps_what_is_recent_and_forgets_the_rest(engine, clock, token_id):
    _claim(engine, token_id, "old")
    _store(engine, token_id, "old", 201, {})
    with engine.transaction() as session:
        assert check_login(session, clock.now(), "officer-x", "wrong", source="10.0.0.1") is None
        user = check_login(session, clock.now(), "officer-x", "long-enough-password", source="10.0.0.2")
        end_web_session(session, clock.now(), open_web_session(session, clock.now(), user))  # signed out
        open_web_session(session, clock.now(), user)  # left open and never used again
    clock.advance(hours=23)
    _claim(engine, token_id, "new")
    with engine.transaction() as session:
        assert check_login(session, clock.now(), "officer-x", "wrong", source="10.0.0.1") is None

    # "old" and the first failure are 25 hours old, "new" and the second 2 hours; the 12-hour token
    # expired 13 hours ago; the signed-out session ended 25 hours ago.
    clock.advance(hours=2)
    assert purge_expired(engine) == Purged(1, 1, 0, 1)
    assert scalar(engine, sa.select(IdempotencyRecord.key)) == "new"
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoginFailure)) == 1

    clock.advance(hours=12)  # the token is now more than a day past its expiry: it goes, with its records
    assert purge_expired(engine) == Purged(1, 0, 1, 0)
    assert scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(ApiCredential)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(SigninSource)) == 1

    clock.advance(days=30)  # the open session is idle for over 30 days, the known source unused as long
    assert purge_expired(engine) == Purged(0, 1, 0, 1)
    assert scalar(engine, sa.select(sa.func.count()).select_from(WebSession)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(SigninSource)) == 0


def test_live_tokens_and_their_records_stay(engine, clock, token_id):
    _claim(engine, token_id, "k")
    clock.advance(hours=1)
    assert purge_expired(engine) == Purged(0, 0, 0, 0)
    assert scalar(engine, sa.select(sa.func.count()).select_from(ApiCredential)) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 1
