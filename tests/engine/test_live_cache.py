"""The live-workflow cache is bounded (least recently used go first) and keeps no finished case."""

from __future__ import annotations

from datetime import date

from engine.loans import services
from tests.conftest import APPROVAL


def test_the_cache_keeps_only_the_most_recently_used_running_cases(engine, parties, submit):
    engine.live_cache_size = 3
    ids = [submit() for _ in range(5)]
    assert len(engine._live) == 3
    services.accept(engine, parties.officer_a, ids[0])  # evicted earlier: read back from its JSON state
    assert len(engine._live) == 3
    assert services.approve(engine, parties.officer_a, ids[0], dict(APPROVAL)).status == "approved"


def test_a_finished_case_leaves_the_cache(engine, parties, submit, clock):
    application_id = submit()
    officer = parties.officer_a
    services.accept(engine, officer, application_id)
    services.approve(engine, officer, application_id, dict(APPROVAL))
    services.disburse(engine, officer, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": date(2026, 9, 30)})
    assert len(engine._live) == 2  # the lifecycle and the satisfaction follow-up its disbursement started
    services.settle(engine, officer, application_id, {"settled_on": date(2026, 9, 30)})
    assert len(engine._live) == 1  # the follow-up still waits for the enterprise's answer


def test_no_cache_at_all_still_runs_every_step(engine, parties, submit):
    engine.live_cache_size = 0
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    assert len(engine._live) == 0
    assert services.approve(engine, parties.officer_a, application_id, dict(APPROVAL)).status == "approved"
