"""Claiming, giving back and assigning tasks within an institution."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import AuditEvent, TaskRow
from tests.conftest import scalar


def _task_id(engine):
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open"))


def _assignee(engine):
    return scalar(engine, sa.select(TaskRow.assignee).where(TaskRow.state == "open"))


def _apply(browser, parties):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})


def test_claim_give_back_and_assign(browser, parties, engine, web_app):
    from engine.loans.actors import OFFICER
    from engine.platform.access import create_user

    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "officer-a2", "long-enough-password", OFFICER,
                    institution_id=parties.bank_a_id)
    _apply(browser, parties)
    task = _task_id(engine)
    officer = browser("officer-a")
    assert officer.post(f"/inbox/tasks/{task}/claim").status_code == 302
    assert _assignee(engine) == "officer-a"
    assert "officer-a" in officer.get("/inbox?mine=1").get_data(as_text=True)

    colleague = browser("officer-a2")
    colleague.post(f"/inbox/tasks/{task}/claim")
    assert _assignee(engine) == "officer-a"  # already claimed: refused
    assert "同事" in colleague.get("/inbox").get_data(as_text=True)
    colleague.post(f"/inbox/tasks/{task}/unclaim")
    assert _assignee(engine) == "officer-a"  # not the assignee

    officer.post(f"/inbox/tasks/{task}/assign", {"assignee": "officer-a2"})
    assert _assignee(engine) == "officer-a2"
    officer.post(f"/inbox/tasks/{task}/assign", {"assignee": "officer-b"})  # another institution
    assert _assignee(engine) == "officer-a2"
    browser("bank-admin-a").post(f"/inbox/tasks/{task}/unclaim")
    assert _assignee(engine) is None
    actions = [r for r in scalar_all(engine)]
    assert actions == ["task_claimed", "task_assigned", "task_unclaimed"]


def test_other_institutions_cannot_touch_the_task(browser, parties, engine):
    _apply(browser, parties)
    task = _task_id(engine)
    intruder = browser("officer-b")
    for action in ("claim", "unclaim", "assign"):
        assert intruder.post(f"/inbox/tasks/{task}/{action}", {"assignee": "officer-b"}).status_code == 404
    assert _assignee(engine) is None


def scalar_all(engine):
    with engine.transaction() as session:
        return list(session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.action.like("task_%")).order_by(AuditEvent.id)))


def test_the_inbox_filters_claimed_and_unclaimed_tasks(browser, parties, engine):
    _apply(browser, parties)
    _apply(browser, parties)
    officer = browser("officer-a")
    first = scalar(engine, sa.select(sa.func.min(TaskRow.id)))
    officer.post(f"/inbox/tasks/{first}/claim")

    def listed(query):
        page = officer.get(f"/inbox?{query}").get_data(as_text=True)
        return page.count('action="/inbox/tasks/')  # forms per row: claim or give back, and assign

    assert listed("") == 4
    assert listed("status=claimed") == 2 and "Give back" in officer.get("/inbox?status=claimed&lang=en").get_data(
        as_text=True)
    assert listed("status=unclaimed") == 2 and ">Claim<" in officer.get("/inbox?status=unclaimed&lang=en").get_data(
        as_text=True)
    assert listed("status=nonsense") == 4
