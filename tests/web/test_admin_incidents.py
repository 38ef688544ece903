"""System admins see cases parked as incidents, with the error, and retry them (page and CLI)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from markupsafe import escape

from engine.loans import binding
from engine.models import Incident, LoanApplication, SlaBreach, TimerRow
from engine.platform.migrate import alembic_config
from engine.workflow.definitions import BPMN_DIR, deploy
from engine.workflow.timers import sweep_due_timers
from tests.conftest import cst, rows, scalar

SHIPPED = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")
BREACH_KIND = ('<spiffworkflow:serviceTaskOperator id="record_breach" resultVariable="accept_breach_recorded">'
               '<spiffworkflow:parameters><spiffworkflow:parameter id="kind" type="str" value="\'accept\'"/>')
# The accept-deadline branch divides by zero when it runs: it compiles, so it is deployed.
BROKEN_MODEL = SHIPPED.replace(BREACH_KIND, BREACH_KIND.replace("value=\"'accept'\"", 'value="1/0"'))
BROKEN_MESSAGE = "Expression '1/0' in Record_Accept_Breach failed: ZeroDivisionError: division by zero"
ACCEPT_DEADLINE_PASSED = cst("2026-10-11 00:00")
OTHERS = ["ent-user", "officer-a", "bank-admin-a", "supervisor", "author"]


def park_a_case(engine, submit, clock, model: str | None = BROKEN_MODEL) -> str:
    """Submit an application (on `model` if given, deployed as a new version), let its accept
    deadline pass and sweep; return the application's reference."""
    if model is not None:
        with engine.transaction() as session:
            deploy(session, model, "author", clock)
    submit()
    clock.set(ACCEPT_DEADLINE_PASSED)
    assert sweep_due_timers(engine).failed == 1
    return scalar(engine, sa.select(LoanApplication.reference))


def the_incident(engine) -> Incident:
    with engine.transaction() as session:
        return session.scalars(sa.select(Incident)).one()


@pytest.fixture
def reference(web_app, engine, submit, clock):
    return park_a_case(engine, submit, clock)


@pytest.fixture
def admin(browser):
    return browser("admin")


def _retry(client, incident_id: int, csrf: bool = True):
    """Press the retry button; return the response and the page it leads to."""
    response = client.post(f"/admin/incidents/{incident_id}/retry", csrf=csrf)
    page = client.get(response.headers["Location"]).get_data(as_text=True) if response.status_code == 302 else ""
    return response, page


def test_the_broken_model_is_deployed_and_fails_only_when_its_deadline_branch_runs(engine, reference):
    incident = the_incident(engine)
    assert (incident.activity, incident.error_type, incident.message) == (
        "Record_Accept_Breach", "ModelError", BROKEN_MESSAGE)
    due = rows(engine, sa.select(TimerRow.state).where(TimerRow.due_at <= ACCEPT_DEADLINE_PASSED))
    assert [state for (state,) in due] == ["failed", "failed"]  # the reminder and the deadline


def test_admins_see_the_incident_with_its_case_element_error_and_next_retry(admin, engine, reference):
    page = admin.get("/admin/incidents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "流程异常" in html and 'href="/admin/incidents"' in html  # title and the admin navigation
    assert reference in html and "loan_lifecycle v2" in html and "Record_Accept_Breach" in html
    assert "ModelError" in html and "模型错误信息" in html
    assert f"<code>{escape(BROKEN_MESSAGE)}</code>" in html
    assert "2026-10-11 00:01" in html  # the first automatic retry, a minute later, Beijing time
    assert "重试" in html and f'action="/admin/incidents/{the_incident(engine).id}/retry"' in html


def test_the_page_speaks_english_but_shows_the_stored_message_as_it_is(admin, reference):
    html = admin.get("/admin/incidents?lang=en").get_data(as_text=True)
    assert "Model error message" in html and "Next automatic retry" in html and ">Retry</button>" in html
    assert str(escape(BROKEN_MESSAGE)) in html


def test_without_incidents_the_page_says_so(admin):
    html = admin.get("/admin/incidents").get_data(as_text=True)
    assert "暂无待处理的流程异常。" in html and "<section" not in html


def test_a_retry_on_the_broken_model_fails_again_counts_it_and_says_so(admin, engine, reference, clock):
    incident_id = the_incident(engine).id
    response, page = _retry(admin, incident_id)
    assert response.status_code == 302
    assert f"{reference}：重试再次失败（已失败 2 次）。" in page
    incident = the_incident(engine)
    assert (incident.state, incident.failures) == ("open", 2)
    assert incident.next_retry_at == cst("2026-10-11 00:02")  # backoff doubled
    assert "2026-10-11 00:02" in page


def test_when_the_automatic_retries_are_spent_the_page_says_it_waits_for_an_admin(admin, engine, reference, clock):
    while (incident := the_incident(engine)).next_retry_at is not None:
        clock.set(incident.next_retry_at)
        sweep_due_timers(engine)
    assert incident.failures == 4  # the first failure and three automatic retries
    html = admin.get("/admin/incidents").get_data(as_text=True)
    assert "等待管理员处理" in html and "<dd>4</dd>" in html


def test_a_retry_resolves_the_incident_once_the_failing_service_works(web_app, admin, engine, submit, clock,
                                                                       monkeypatch):
    def unavailable(operation, task, kind):
        raise ValueError("breach register unavailable")

    monkeypatch.setattr(binding, "record_breach", unavailable)
    reference = park_a_case(engine, submit, clock, model=None)
    assert "breach register unavailable" in admin.get("/admin/incidents").get_data(as_text=True)
    assert rows(engine, sa.select(SlaBreach.id)) == []
    monkeypatch.undo()

    response, page = _retry(admin, the_incident(engine).id)
    assert f"{reference}：重试成功，流程异常已解决。" in page and "暂无待处理的流程异常。" in page
    incident = the_incident(engine)
    assert (incident.state, incident.resolved_by, incident.resolved_at) == ("resolved", "admin", clock.now())
    assert [kind for (kind,) in rows(engine, sa.select(SlaBreach.kind))] == ["accept"]
    assert "failed" not in {state for (state,) in rows(engine, sa.select(TimerRow.state))}


def test_retrying_an_incident_that_is_no_longer_open_says_so(admin, engine, reference):
    response, page = _retry(admin, 999)
    assert response.status_code == 302 and "该流程异常已不再待处理。" in page
    assert the_incident(engine).failures == 1


@pytest.mark.parametrize("user", OTHERS)
def test_everyone_but_system_admins_gets_404_and_changes_nothing(browser, engine, reference, user):
    client = browser(user)
    incident_id = the_incident(engine).id
    assert client.get("/admin/incidents").status_code == 404
    assert client.post(f"/admin/incidents/{incident_id}/retry").status_code == 404
    assert 'href="/admin/incidents"' not in client.get("/").get_data(as_text=True)
    assert the_incident(engine).failures == 1


def test_a_retry_without_csrf_token_is_refused(admin, engine, reference):
    response, _ = _retry(admin, the_incident(engine).id, csrf=False)
    assert response.status_code == 400
    assert the_incident(engine).failures == 1


@pytest.fixture
def cli(web_app, database_url):
    """The CLI on the test database (created without Alembic on SQLite: marked as up to date)."""
    command.stamp(alembic_config(database_url), "head")
    return web_app.test_cli_runner()


def test_the_cli_lists_open_incidents_with_their_error(cli, engine, reference):
    result = cli.invoke(args=["incidents", "list"])
    assert result.exit_code == 0, result.output
    assert f"#{the_incident(engine).id} {reference} (loan_lifecycle v2) at Record_Accept_Breach: 1 failure(s)" \
        in result.output
    assert "next automatic retry: 2026-10-11 00:01 Asia/Shanghai" in result.output
    assert f"ModelError: {BROKEN_MESSAGE}" in result.output


def test_the_cli_retries_an_incident_and_fails_when_it_fails_again(cli, engine, reference):
    incident_id = the_incident(engine).id
    result = cli.invoke(args=["incidents", "retry", str(incident_id), "--by", "ops"])
    assert result.exit_code == 1
    assert f"Incident #{incident_id} failed again (2 failures)" in result.output and BROKEN_MESSAGE in result.output
    assert the_incident(engine).failures == 2
    missing = cli.invoke(args=["incidents", "retry", "999"])
    assert missing.exit_code == 1 and "No open incident #999." in missing.output


def test_the_cli_resolves_an_incident_once_the_failing_service_works(cli, engine, submit, clock, monkeypatch):
    monkeypatch.setattr(binding, "record_breach", lambda operation, task, kind: 1 / 0)
    park_a_case(engine, submit, clock, model=None)
    monkeypatch.undo()
    incident_id = the_incident(engine).id
    result = cli.invoke(args=["incidents", "retry", str(incident_id), "--by", "ops"])
    assert result.exit_code == 0, result.output
    assert f"Incident #{incident_id} resolved" in result.output
    assert (the_incident(engine).state, the_incident(engine).resolved_by) == ("resolved", "ops")
    assert "No open incidents." in cli.invoke(args=["incidents", "list"]).output
