"""Every page and action of institution A, tried by B's officer, an enterprise, anonymously, without CSRF."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication
from tests.conftest import scalar


@pytest.fixture
def reference(browser, parties, engine):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    with engine.transaction() as session:
        return session.scalars(sa.select(LoanApplication.reference)).one()


def _institution_actions(reference):
    return [
        ("get", f"/inbox/{reference}", None),
        ("post", f"/inbox/{reference}/accept", {}),
        ("post", f"/inbox/{reference}/decision", {"decision": "reject", "reason": "x"}),
        ("post", f"/inbox/{reference}/disbursement", {"contract_number": "x", "amount": "1.00",
                                                      "disbursed_on": "2026-09-30"}),
        ("post", f"/inbox/{reference}/settlement", {"settled_on": "2026-09-30"}),
    ]


def _events(engine):
    return scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("intruder", ["officer-b", "ent-user", "supervisor", "author"])
def test_other_users_get_404_on_institution_a_pages(browser, reference, engine, intruder):
    before = _events(engine)
    client = browser(intruder)
    for method, path, data in _institution_actions(reference):
        response = client.get(path) if method == "get" else client.post(path, data)
        assert response.status_code == 404, (intruder, path)
    assert _events(engine) == before
    assert reference not in client.get("/inbox").get_data(as_text=True)


@pytest.mark.parametrize("intruder", ["other-user", "officer-a", "officer-b"])
def test_other_users_get_404_on_the_enterprises_pages(browser, reference, engine, intruder):
    client = browser(intruder)
    assert client.get(f"/my/applications/{reference}").status_code == 404
    assert client.post(f"/my/applications/{reference}/withdraw", {}).status_code == 404
    assert scalar(engine, sa.select(LoanApplication.status)) == "submitted"


def test_anonymous_users_are_sent_to_sign_in(browser, reference):
    client = browser()
    for method, path, data in [*_institution_actions(reference), ("get", "/my/applications", None),
                               ("post", f"/my/applications/{reference}/withdraw", {})]:
        response = client.get(path) if method == "get" else client.post(path, data)
        assert response.status_code in (302, 400), path
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


def test_posts_without_csrf_token_are_refused(browser, reference, engine):
    officer = browser("officer-a")
    response = officer.post(f"/inbox/{reference}/accept", {}, csrf=False)
    assert response.status_code == 400
    enterprise = browser("ent-user")
    assert enterprise.post(f"/my/applications/{reference}/withdraw", {}, csrf=False).status_code == 400
    assert scalar(engine, sa.select(LoanApplication.status)) == "submitted"


def test_nul_characters_in_forms_are_refused(browser, parties, engine):
    response = browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1.00", "term_months": "12",
        "purpose": "a\x00b", "authorize": "yes"})
    assert response.status_code == 400
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0
