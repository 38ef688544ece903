"""The supervisors' board shows a breach after the clock passes a deadline, and exports CSV."""

from __future__ import annotations

from engine.timers import sweep_due_timers
from tests.conftest import cst


def test_a_breach_appears_after_the_deadline_passes_and_exports(browser, parties, engine, clock):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    supervisor = browser("supervisor")
    before = supervisor.get("/supervision").get_data(as_text=True)
    assert "暂无超时记录" in before
    clock.set(cst("2026-10-11 08:00"))
    sweep_due_timers(engine)
    board = supervisor.get("/supervision?open=1").get_data(as_text=True)
    assert "LA2026" in board and "2026-10-10 24:00" in board
    csv = supervisor.get(f"/supervision/breaches.csv?institution={parties.bank_a_id}")
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv.mimetype == "text/csv" and len(lines) == 2 and lines[1].startswith("LA2026")
    other = supervisor.get(f"/supervision/breaches.csv?institution={parties.bank_b_id}")
    assert len(other.get_data(as_text=True).splitlines()) == 1


def test_only_supervisors_see_the_board(browser):
    for username in ("officer-a", "ent-user", "author"):
        assert browser(username).get("/supervision").status_code == 404
        assert browser(username).get("/supervision/breaches.csv").status_code == 404
    assert browser().get("/supervision").status_code == 302
