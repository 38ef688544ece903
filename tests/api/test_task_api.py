"""The task API: a client that knows only tasks and their form definitions runs a case end to end."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication
from tests.conftest import application_input, scalar


def fill(form: dict, today: str) -> dict:
    """Answer a form-js form from its definition alone: the first option, the smallest valid number,
    today for dates, a word for text. Knows nothing of loans."""
    data = {}
    hidden_by: list[tuple[str, dict]] = []
    for component in form["components"]:
        key, kind = component.get("key"), component["type"]
        if key is None or kind == "text":
            continue
        rules = component.get("validate", {})
        if kind in ("radio", "select"):
            data[key] = component["values"][0]["value"]
        elif kind == "number":
            places = {"money": 2, "rate": 4}.get(component.get("properties", {}).get("format"),
                                                  component.get("decimalDigits", 0))
            low = rules.get("min", 1)
            data[key] = f"{low:.{places}f}" if places else int(low)
        elif kind == "datetime":
            data[key] = today
        elif kind == "checkbox":
            data[key] = True
        elif rules.get("required"):
            data[key] = "ok"
        if component.get("conditional", {}).get("hide"):
            hidden_by.append((key, component))
    return data


def drop_hidden(form: dict, data: dict) -> dict:
    """Leave out fields the form hides for these answers (the simple `=key = "value"` / `!=` FEEL)."""
    kept = dict(data)
    for component in form["components"]:
        condition = component.get("conditional", {}).get("hide")
        if not condition:
            continue
        expression = condition.lstrip("=").strip()
        negated = "!=" in expression
        field, literal = [part.strip() for part in expression.split("!=" if negated else "=", 1)]
        value = literal.strip('"')
        hidden = (str(data.get(field)) != value) if negated else (str(data.get(field)) == value)
        if hidden:
            kept.pop(component["key"], None)
    return kept


def test_a_generic_client_takes_a_case_from_submission_to_settlement(callers, parties, clock, engine):
    started = callers.enterprise.post("/api/v1/processes/loan_lifecycle/start",
                                      {"data": application_input(parties, clock.now())})
    assert started.status_code == 201, started.json
    case = started.json["case"]
    assert started.json["process_key"] == "loan_lifecycle"
    today = clock.now().date().isoformat()
    completed = []
    for _ in range(10):
        listed = callers.bank_a.get("/api/v1/tasks").json
        mine = [task for task in listed["items"] if task["case"] == case]
        if not mine:
            break
        task = callers.bank_a.get(f"/api/v1/tasks/{mine[0]['id']}").json
        data = drop_hidden(task["form"], fill(task["form"], today)) if task["form"] else {}
        answer = callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
        assert answer.status_code == 200, answer.json
        completed.append(task["name"])
    assert completed == ["受理", "审贷决定", "放款", "结清"]
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.reference == case)) == "settled"
    actions = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(("accepted", "approved", "disbursed", "settled"))))
    assert actions == 4


def test_a_task_shows_its_form_deadline_and_role_to_its_institution_only(callers, parties, clock):
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    [task] = [t for t in callers.bank_a.get("/api/v1/tasks").json["items"] if t["case"] == case]
    assert task["step"] == "accept" and task["commitment"] == "accept" and task["role"] == "institution"
    assert task["due_at"] is not None and task["working_days_left"] == 3
    detail = callers.bank_a.get(f"/api/v1/tasks/{task['id']}").json
    assert detail["form"]["id"] == "loan_accept" and detail["documentation"]
    assert callers.bank_b.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert callers.enterprise.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert [t for t in callers.bank_b.get("/api/v1/tasks").json["items"] if t["case"] == case] == []
    assert callers.bank_b.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {}}).status_code == 404


def test_bad_data_gets_field_errors_and_changes_nothing(callers, parties, clock, engine):
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    callers.bank_a.post(f"/api/v1/applications/{case}/accept", {})
    [task] = [t for t in callers.bank_a.get("/api/v1/tasks").json["items"] if t["case"] == case]
    assert task["step"] == "decision"
    answer = callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {
        "decision": "approve", "amount": "1.005", "annual_rate": "3.85", "term_months": 12, "colour": "red"}})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"amount", "colour"}
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.reference == case)) == "accepted"
    # More than requested needs a reason: the operation refuses, the form alone would not.
    answer = callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {
        "decision": "approve", "amount": "900000.00", "annual_rate": "3.85", "term_months": 12}})
    assert answer.status_code == 422 and set(answer.json["errors"]) == {"amount"}
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.reference == case)) == "accepted"


def test_a_claim_reserves_the_task_and_taking_it_over_is_recorded(callers, parties, clock, engine):
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    [task] = [t for t in callers.officer_a.get("/api/v1/tasks").json["items"] if t["case"] == case]
    claimed = callers.officer_a.post(f"/api/v1/tasks/{task['id']}/claim", {})
    assert claimed.status_code == 200 and claimed.json["assignee"] == "officer-a"
    assert callers.officer_a.get("/api/v1/tasks?mine=true").json["total"] == 1
    # The bank's own system acts for the whole institution: a colleague's claim does not stop it.
    assert callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {}}).status_code == 200
    again = callers.officer_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {}})
    assert again.status_code == 409
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "task_claimed")) == 1


def test_starting_a_process_needs_its_start_role(callers, parties, clock):
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    # The lifecycle's start event names no role: only the submission starts it.
    assert callers.bank_a.post("/api/v1/processes/nonexistent/start", {"case": case}).status_code == 404
    assert callers.bank_a.post("/api/v1/processes/loan_lifecycle/start", {"data": {}}).status_code in (403, 404)
