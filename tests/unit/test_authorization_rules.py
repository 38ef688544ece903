"""What an authorization allows the handling institution, instant by instant (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.platform.authorizations import CASE_RECORD, FULL, HANDLING, NONE, RECORD, institution_access

T0 = datetime(2026, 9, 30, 2, tzinfo=UTC)
WINDOW = timedelta(days=180)


def _case(status="submitted", **closed):
    fields = {"settled_at": None, "decided_at": None, "withdrawn_at": None, "updated_at": T0}
    return SimpleNamespace(status=status, **{**fields, **closed})


def _authorization(revoked_at=None, days=90):
    return SimpleNamespace(revoked_at=revoked_at, expires_at=T0 + timedelta(days=days))


def _access(application, authorization, at):
    access = institution_access(application, authorization, at, WINDOW)
    return access.level, access.status, access.reason


def test_an_open_case_under_a_valid_authorization_is_fully_open():
    assert _access(_case(), _authorization(), T0) == (FULL, "active", "active")


def test_revoked_or_expired_while_open_leaves_the_masked_record_only():
    assert _access(_case("accepted"), _authorization(revoked_at=T0), T0 + timedelta(days=400)) == (
        RECORD, "revoked", "revoked")
    assert _access(_case("disbursed"), _authorization(), T0 + timedelta(days=90)) == (RECORD, "expired", "expired")


@pytest.mark.parametrize("status, column", [("withdrawn", "withdrawn_at"), ("rejected", "decided_at"),
                                            ("settled", "settled_at")])
def test_a_closed_case_is_readable_for_the_window_after_its_closure_then_not(status, column):
    closed = T0 + timedelta(days=10)
    case = _case(status, **{column: closed})
    assert _access(case, _authorization(), closed) == (RECORD, "closed", status)
    assert _access(case, _authorization(), closed + WINDOW - timedelta(seconds=1))[0] == RECORD
    assert _access(case, _authorization(), closed + WINDOW) == (NONE, "closed", status)
    assert institution_access(case, _authorization(), closed, WINDOW).readable_until == closed + WINDOW


def test_a_revocation_after_closure_says_revoked_and_keeps_the_window():
    case = _case("settled", settled_at=T0)
    assert _access(case, _authorization(revoked_at=T0 + timedelta(days=1)), T0 + timedelta(days=2)) == (
        RECORD, "revoked", "revoked")


def test_the_purpose_follows_the_closure():
    assert institution_access(_case(), _authorization(), T0, WINDOW).purpose == HANDLING
    assert institution_access(_case("withdrawn", withdrawn_at=T0), _authorization(), T0, WINDOW).purpose == CASE_RECORD


def test_no_authorization_on_record_never_reveals():
    assert _access(_case(), None, T0) == (RECORD, "missing", "missing")
