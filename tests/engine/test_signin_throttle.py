"""Sign-in throttling by account and source: growing delays for the guesser, never a lock-out for the owner."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.loans.actors import SUPERVISOR
from engine.models import LoginFailure
from engine.platform.access import SigninThrottle, check_login, create_user, source_key
from engine.workflow.errors import RateLimited
from tests.conftest import scalar

PASSWORD = "long-enough-password"
ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def account(engine):
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "sup", PASSWORD, SUPERVISOR)
    return "sup"


def _try(engine, username: str, password: str, source: str, throttle: SigninThrottle | None = None):
    """'ok', 'wrong' or the seconds to wait."""
    try:
        with engine.transaction() as session:
            user = check_login(session, engine.clock.now(), username, password, source=source,
                               **({"throttle": throttle} if throttle else {}))
            return "ok" if user is not None else "wrong"
    except RateLimited as limited:
        return limited.retry_after


def test_three_failures_from_a_source_make_its_next_attempt_wait_one_second_then_twice_as_long(engine, clock, account):
    assert [_try(engine, account, "guess", ATTACKER) for _ in range(3)] == ["wrong"] * 3
    assert _try(engine, account, PASSWORD, ATTACKER) == 1
    clock.advance(seconds=0.4)
    assert _try(engine, account, PASSWORD, ATTACKER) == 1  # rounded up
    clock.advance(seconds=0.6)
    assert _try(engine, account, "guess", ATTACKER) == "wrong"
    assert _try(engine, account, "guess", ATTACKER) == 2  # a refused attempt is not counted as a failure
    clock.advance(seconds=2)
    assert _try(engine, account, "guess", ATTACKER) == "wrong"
    assert _try(engine, account, "guess", ATTACKER) == 4


def test_the_right_password_from_another_source_signs_in_at_once(engine, account):
    for _ in range(3):
        _try(engine, account, "guess", ATTACKER)
    assert _try(engine, account, PASSWORD, ATTACKER) == 1
    assert _try(engine, account, PASSWORD, OWNER) == "ok"
    assert _try(engine, account, PASSWORD, ATTACKER) == 1  # the owner's success does not help the attacker


def test_the_delay_stops_growing_at_the_maximum(engine, clock, account):
    throttle = SigninThrottle(max_delay=timedelta(seconds=10))
    waits = []
    for _ in range(3 + 2 * 5):  # three free failures, then five times: wait, fail
        result = _try(engine, account, "guess", ATTACKER, throttle)
        if result != "wrong":
            waits.append(result)
            clock.advance(seconds=result)
    assert waits == [1, 2, 4, 8, 10]


def test_a_success_forgets_the_failures_of_that_source_only(engine, clock, account):
    for source in (ATTACKER, OWNER):
        _try(engine, account, "guess", source)
        _try(engine, account, "guess", source)
    assert _try(engine, account, PASSWORD, OWNER) == "ok"
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoginFailure)) == 2
    assert _try(engine, account, "guess", ATTACKER) == "wrong"
    assert _try(engine, account, "guess", ATTACKER) == 1


def test_failures_older_than_the_window_no_longer_count(engine, clock, account):
    for _ in range(3):
        _try(engine, account, "guess", ATTACKER)
    clock.advance(minutes=61)
    assert _try(engine, account, "guess", ATTACKER) == "wrong"
    assert _try(engine, account, PASSWORD, ATTACKER) == "ok"


def test_spraying_one_password_over_many_accounts_slows_that_source(engine, account):
    for number in range(20):
        assert _try(engine, f"user-{number}", "Password1", ATTACKER) == "wrong"
    assert _try(engine, account, "Password1", ATTACKER) == 1
    assert _try(engine, account, "Password1", OWNER) == "wrong"


def test_a_distributed_attack_slows_sources_that_failed_on_the_account_but_not_a_fresh_or_known_one(engine,
                                                                                                     account):
    assert _try(engine, account, PASSWORD, OWNER) == "ok"  # the owner's usual address
    bots = [f"192.0.2.{number}" for number in range(1, 31)]
    for bot in bots:
        assert _try(engine, account, "guess", bot) == "wrong"
    assert _try(engine, account, "guess", bots[0]) == 1  # 30 failures on the account: failed sources wait
    assert _try(engine, account, PASSWORD, "192.0.2.200") == "ok"  # a source that never failed here does not
    for bot in bots:
        _try(engine, account, "guess", bot)
    assert _try(engine, account, "guess", "2001:db8::1") == "wrong"
    assert _try(engine, account, PASSWORD, OWNER) == "ok"  # nor does a source the owner signed in from


def test_a_source_is_an_ipv4_address_or_an_ipv6_64_network():
    assert source_key("203.0.113.9") == "203.0.113.9"
    assert source_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert source_key("2001:db8:1:2:3:4:5:6") == source_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key(None) == source_key("not an address") == "unknown"


def test_parallel_guesses_cannot_all_get_past_the_throttle(engine, account):
    start = threading.Barrier(8)
    results: list[object] = []

    def guess() -> None:
        start.wait()
        results.append(_try(engine, account, "guess", ATTACKER))

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("wrong") == 3 and len(results) == 8
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoginFailure)) == 3
