"""The process diagram's data: the deployed BPMN and the application's position, for those who may see it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import LoanApplication
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, scalar


@pytest.fixture
def reference(engine, submit):
    application_id = submit()
    return scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))


def _position(browser, user, reference):
    response = browser(user).get(f"/applications/{reference}/process.json")
    assert response.status_code == 200, (user, response.status_code)
    return response.get_json()


@pytest.mark.parametrize("user", ["ent-user", "officer-a", "bank-admin-a", "supervisor"])
def test_those_who_see_the_application_get_its_process_and_position(browser, reference, user):
    position = _position(browser, user, reference)
    assert position["definition"] == {"key": "loan_lifecycle", "version": 1}
    assert 'id="Accept"' in position["xml"]
    assert position["active"] == ["Accept"]
    assert position["completed"] == [] and position["fired_timers"] == [] and position["end_event"] is None


@pytest.mark.parametrize("user", ["other-user", "officer-b", "author", "admin"])
def test_anyone_else_gets_404(browser, reference, user):
    assert browser(user).get(f"/applications/{reference}/process.json").status_code == 404


def test_anonymous_users_are_sent_to_sign_in(browser, reference):
    response = browser().get(f"/applications/{reference}/process.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_position_follows_the_steps_deadlines_and_end(browser, engine, parties, reference, clock):
    clock.advance(days=11)  # past the acceptance deadline (2026-10-10 24:00)
    sweep_due_timers(engine)
    position = _position(browser, "officer-a", reference)
    assert position["active"] == ["Accept"]
    assert "Accept_Deadline" in position["fired_timers"] and "Accept_Reminder" in position["fired_timers"]

    services.accept(engine, parties.officer_a, reference)
    position = _position(browser, "officer-a", reference)
    assert position["completed"] == ["Accept"] and position["active"] == ["Decide"]

    services.reject(engine, parties.officer_a, reference, {"reason": "Insufficient collateral"})
    position = _position(browser, "ent-user", reference)
    assert position["active"] == [] and position["completed"] == ["Accept", "Decide"]
    assert position["end_event"] == "End_Rejected"


def test_the_pages_embed_the_diagram_when_the_viewer_is_installed(browser, reference, web_app, tmp_path):
    page = browser("officer-a").get(f"/inbox/{reference}").get_data(as_text=True)
    assert f'data-src="/applications/{reference}/process.json"' in page
    assert "/vendor/bpmn-viewer.js" in page
    web_app.config["FRONTEND_MODULES"] = str(tmp_path)  # as if npm had not run
    page = browser("ent-user").get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "process.json" not in page and "/vendor/bpmn-viewer.js" not in page


def test_only_listed_vendor_files_are_served(browser):
    client = browser()
    response = client.get("/vendor/bpmn-viewer.js")
    assert response.status_code == 200 and b"BpmnJS" in response.data[:200_000]
    assert client.get("/vendor/chart.js").status_code == 200
    for path in ("/vendor/package.json", "/vendor/..%2Fpackage.json", "/vendor/bpmn-js%2Fpackage.json"):
        assert client.get(path).status_code == 404, path


def test_approved_applications_show_the_terms(browser, engine, parties, reference):
    services.accept(engine, parties.officer_a, reference)
    services.approve(engine, parties.officer_a, reference, APPROVAL)
    page = browser("ent-user").get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "400,000.00" in page and "3.85 %" in page
