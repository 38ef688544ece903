"""Every page and action of institution A, tried by B's officer, an enterprise, anonymously, without CSRF."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import url_for

from engine.models import AuditEvent, LoanApplication, TaskRow
from tests.conftest import scalar


@pytest.fixture
def reference(browser, parties, engine):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    with engine.transaction() as session:
        return session.scalars(sa.select(LoanApplication.reference)).one()


@pytest.fixture
def task(reference, engine):
    """The application's open Accept task, worked on its task page."""
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open", TaskRow.bpmn_id == "Accept"))


def _institution_actions(reference, task):
    return [
        ("get", f"/inbox/{reference}", None),
        ("get", f"/tasks/{task}", None),
        ("post", f"/tasks/{task}", {"note": "x"}),
        ("post", f"/tasks/{task}", {"decision": "reject", "reason": "x"}),
        ("post", f"/tasks/{task}/claim", {"take_over": "1"}),
    ]


def _events(engine):
    return scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("intruder", ["officer-b", "ent-user", "supervisor", "author"])
def test_other_users_get_404_on_institution_a_pages(browser, reference, task, engine, intruder):
    before = _events(engine)
    client = browser(intruder)
    for method, path, data in _institution_actions(reference, task):
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


def test_anonymous_users_are_sent_to_sign_in(browser, reference, task):
    client = browser()
    for method, path, data in [*_institution_actions(reference, task), ("get", "/my/applications", None),
                               ("post", f"/my/applications/{reference}/withdraw", {})]:
        response = client.get(path) if method == "get" else client.post(path, data)
        assert response.status_code in (302, 400), path
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


def test_posts_without_csrf_token_are_refused(browser, reference, task, engine):
    officer = browser("officer-a")
    response = officer.post(f"/tasks/{task}", {}, csrf=False)
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


# Who may use each page or action of the web app (API excluded: tests/api has its own matrix).
# "A" means staff of institution A (whose application is used); everyone else must get 404, or be
# sent to sign in when anonymous. A new route fails this test until it is declared here.
PUBLIC = {"static", "assets.vendor", "auth.login", "auth.logout", "auth.password", "home.index", "home.healthz",
          # self-registration: anyone may register (tests/web/test_registration.py)
          "registration.form", "registration.start", "registration.code", "registration.verify",
          "registration.resend"}
STAFF_A = {"officer-a", "bank-admin-a"}
USERS_WITH_TASKS = {"ent-user", "other-user", "officer-a", "officer-b", "bank-admin-a", "supervisor", "admin"}
AUDIENCE = {
    "inbox.index": STAFF_A | {"officer-b"}, "inbox.record": STAFF_A | {"officer-b"},  # each sees their own
    "inbox.show": STAFF_A, "inbox.reveal_contact": STAFF_A,
    "inbox.task_assignment": STAFF_A,
    "enterprise.index": {"ent-user", "other-user"}, "enterprise.new": {"ent-user", "other-user"},
    "enterprise.create": {"ent-user", "other-user"},
    "enterprise.show": {"ent-user"}, "enterprise.withdraw": {"ent-user"},
    "profile.profile": {"ent-user", "other-user"}, "profile.update_profile": {"ent-user", "other-user"},
    # an enterprise's own data (each sees its own); revoking: the applicant's own authorization only
    "enterprise_data.index": {"ent-user", "other-user"}, "enterprise_data.export": {"ent-user", "other-user"},
    "enterprise_data.confirm_revoke": {"ent-user"}, "enterprise_data.revoke": {"ent-user"},
    # objections to the applicant's own application only; financing problems and the lists: each its own
    "objections.new_objection": {"ent-user"}, "objections.file_objection": {"ent-user"},
    **{f"objections.{name}": {"ent-user", "other-user"} for name in ("index", "new_problem", "report_problem")},
    "process_view.position": STAFF_A | {"ent-user", "supervisor"},
    "supervision.board": {"supervisor"}, "supervision.breaches_csv": {"supervisor"},
    "supervision.applications": {"supervisor"},
    # the plan's reports: supervisors all institutions, staff their own (tests/web/test_reports_pages.py)
    **{f"reports.{name}": STAFF_A | {"officer-b", "supervisor"} for name in ("index", "download", "produced_download")},
    # the task pages: the list for every role that can have tasks (each sees their own), the open task
    # (institution A's Accept) for A's staff only
    "task_pages.index": USERS_WITH_TASKS, "task_pages.show": STAFF_A, "task_pages.complete": STAFF_A,
    "task_pages.claim": STAFF_A, "task_pages.unclaim": STAFF_A,
    "admin_incidents.index": {"admin"}, "admin_incidents.retry": {"admin"},
    "admin_deliveries.index": {"admin"}, "admin_deliveries.retry": {"admin"},
    **{f"admin_records.{name}": {"admin"} for name in (
        "enterprises", "new_enterprise", "create_enterprise", "enterprise", "update_enterprise", "review_identity",
        "rename_institution", "rename_product", "rename_user")},
    # every signed-in user has notifications; each sees only their own (tests/web/test_notification_pages.py)
    **{endpoint: {"ent-user", "other-user", "officer-a", "officer-b", "bank-admin-a", "supervisor", "author", "admin"}
       for endpoint in ("notifications.index", "notifications.open_notification", "notifications.mark_all_read")},
}
USERS = ["ent-user", "other-user", "officer-a", "officer-b", "bank-admin-a", "supervisor", "author", "admin"]
FORMS = {"inbox.task_assignment": {"assignee": "officer-a"},
         "task_pages.complete": {"note": "x"}, "task_pages.claim": {"take_over": "1"},
         "enterprise.withdraw": {"reason": "x"}}


def _audience(endpoint: str) -> set[str]:
    if endpoint.startswith("admin."):
        return {"admin"}
    if endpoint.startswith("supervision."):
        return AUDIENCE.get(endpoint, {"supervisor"})
    assert endpoint in AUDIENCE, f"declare who may use {endpoint} in AUDIENCE"
    return AUDIENCE[endpoint]


def _routes(web_app, reference, task_id):
    values = {"reference": reference, "task_id": task_id, "action": "unclaim", "user_id": 1,
              "institution_id": 1, "product_id": 1, "incident_id": 1,
              "delivery_id": 1, "notification_id": 1, "enterprise_id": 1, "fmt": "csv", "report_id": 1}
    for rule in web_app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.rule.startswith("/api/"):
            continue
        with web_app.test_request_context():
            path = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def test_every_page_and_action_refuses_everyone_outside_its_audience(browser, web_app, reference, engine):
    task_id = scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open"))
    browser("officer-a").post(f"/inbox/tasks/{task_id}/claim")  # so that "unclaim" would change something
    routes = list(_routes(web_app, reference, task_id))
    assert len(routes) >= 15
    clients = {user: browser(user) for user in USERS}
    anonymous = browser()
    before = (_events(engine), scalar(engine, sa.select(LoanApplication.status)),
              scalar(engine, sa.select(TaskRow.assignee).where(TaskRow.id == task_id)))
    checked = 0
    for endpoint, method, path in routes:
        allowed = _audience(endpoint)
        for user, client in clients.items():
            if user in allowed:
                continue
            response = client.get(path) if method == "GET" else client.post(path, FORMS.get(endpoint, {}))
            assert response.status_code == 404, (user, method, path, response.status_code)
            checked += 1
        response = anonymous.get(path) if method == "GET" else anonymous.post(path, FORMS.get(endpoint, {}))
        assert response.status_code in (302, 400), (method, path)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], path
    assert checked > 50
    after = (_events(engine), scalar(engine, sa.select(LoanApplication.status)),
             scalar(engine, sa.select(TaskRow.assignee).where(TaskRow.id == task_id)))
    assert after == before
