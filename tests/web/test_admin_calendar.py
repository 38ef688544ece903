"""Admins see a year's calendar and load next year's official schedule in the browser."""

from __future__ import annotations

import io

import sqlalchemy as sa

from engine.models import LoanApplication
from tests.conftest import cst, scalar
from tests.schedules import whole_year_2027


def _upload(admin, text: str, name: str = "2027.csv"):
    return admin.client.post("/admin/calendar", data={
        "csrf_token": admin.token, "schedule": (io.BytesIO(text.encode("utf-8")), name)},
        content_type="multipart/form-data")


def test_admin_sees_2026_and_loads_2027_which_moves_a_provisional_deadline(browser, parties, engine, clock):
    clock.set(cst("2026-12-29 15:00"))
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    assert scalar(engine, sa.select(LoanApplication.accept_due_provisional)) is True
    admin = browser("admin")
    page = admin.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert "2026-10-10" in page and "National Day" in page
    assert "暂定" in admin.get("/admin/calendar?year=2027").get_data(as_text=True)

    response = _upload(admin, whole_year_2027())
    assert response.status_code == 302
    assert scalar(engine, sa.select(LoanApplication.accept_due)).isoformat() == "2027-01-04T16:00:00+00:00"
    assert scalar(engine, sa.select(LoanApplication.accept_due_provisional)) is False


def test_a_bad_file_is_refused_with_its_line_and_changes_nothing(browser, engine):
    admin = browser("admin")
    response = _upload(admin, "date,kind,name\n2027-01-01,party,元旦\n")
    assert response.status_code == 422 and "第 2 行" in response.get_data(as_text=True)
    assert "2027-01-01" not in admin.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert _upload(admin, "", "empty.csv").status_code == 422


def test_only_admins_reach_the_calendar(browser):
    for username in ("officer-a", "supervisor", "ent-user"):
        assert browser(username).get("/admin/calendar").status_code == 404
