"""The supervisors' board shows a breach after the clock passes a deadline, and exports CSV."""

from __future__ import annotations

from engine.workflow.timers import sweep_due_timers
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
    assert lines[1].split(",")[1:3] == ["Bank A", "受理"]  # kinds translated, never codes
    figures = supervisor.get("/supervision?lang=en").get_data(as_text=True)
    assert "<strong>1</strong>Breaches recorded today" in figures
    assert "<strong>1</strong>Steps overdue" in figures and "<strong>0</strong>Steps due today" in figures
    other = supervisor.get(f"/supervision/breaches.csv?institution={parties.bank_b_id}")
    assert len(other.get_data(as_text=True).splitlines()) == 1


def test_only_supervisors_see_the_board(browser):
    for username in ("officer-a", "ent-user", "author"):
        assert browser(username).get("/supervision").status_code == 404
        assert browser(username).get("/supervision/breaches.csv").status_code == 404
    assert browser().get("/supervision").status_code == 302


def test_the_board_shows_each_institutions_record_and_the_weekly_figures(browser, parties, engine, clock):
    from datetime import date
    from decimal import Decimal

    import sqlalchemy as sa

    from engine.loans import services
    from engine.models import LoanApplication
    from tests.conftest import APPROVAL, scalar

    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    reference = scalar(engine, sa.select(LoanApplication.reference))
    services.accept(engine, parties.officer_a, reference)
    clock.set(cst("2026-10-09 10:00"))
    services.approve(engine, parties.officer_a, reference, {**APPROVAL, "amount": Decimal("1234567.89"),
                                                            "conditions": "追加抵押后提高额度"})
    services.disburse(engine, parties.officer_a, reference, {
        "contract_number": "HT-1", "amount": Decimal("1000000.00"), "disbursed_on": date(2026, 10, 9)})

    page = browser("supervisor").get("/supervision?lang=en").get_data(as_text=True)
    bank_a_row = page.split("<td>Bank A</td>")[1].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in bank_a_row.split("<td")[1:]]
    # status, applications, on-time acceptance, on-time decision, approval, median, open breaches, amounts
    assert [c.split(">", 1)[1] for c in cells] == [
        "Active", "1", "100.0 %", "100.0 %", "100.0 %", "2.0", "0", "1,234,567.89", "1,000,000.00"]
    assert "Today, 2026-10-09" in page
    trend = page.split('id="trend-table"')[1].split("</table>")[0]
    assert "<td>2026-10-05</td><td>0</td><td>0</td><td>—</td><td>1</td><td>100.0 %</td>" in trend
    import json

    chart = json.loads(page.split('<script type="application/json" id="chart-data">')[1].split("</script>")[0])
    assert chart["weeks"][-1] == "2026-10-05" and chart["decision"][-1] == 100.0 and chart["breaches"][-1] == 0
    assert chart["labels"] == {"breaches": "SLA breaches", "acceptance": "On-time acceptance",
                               "decision": "On-time decision"}
    assert '<script src="/vendor/chart.js" defer></script>' in page
    assert browser("supervisor").get("/vendor/chart.js").status_code == 200
    chinese = browser("supervisor").get("/supervision").get_data(as_text=True)
    assert "SLA breaches" not in chinese.split('id="chart-data">')[1].split("</script>")[0]


def test_the_supervisor_reads_any_application_with_the_applicant_masked(browser, parties, engine):
    import sqlalchemy as sa

    from engine.models import AuditEvent, Enterprise, LoanApplication
    from tests.conftest import scalar

    with engine.transaction() as session:
        session.get(Enterprise, parties.enterprise.enterprise_id).contact_phone = "13912345678"
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    reference = scalar(engine, sa.select(LoanApplication.reference))
    response = browser("supervisor").get(f"/supervision/applications/{reference}?lang=en")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Bank A" in page and "139****5678" in page and "13912345678" not in page
    assert f'data-src="/applications/{reference}/process.json"' in page
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "viewed")) == 0  # a supervisor's read is not a disclosure to an institution
    assert browser("supervisor").get("/supervision/applications/LA-NONE").status_code == 404


def test_institution_staff_see_their_own_record_and_nobody_elses(browser, parties, engine, clock):
    from engine.workflow.timers import sweep_due_timers as sweep

    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    clock.set(cst("2026-10-11 08:00"))
    sweep(engine)
    own = browser("officer-a").get("/inbox/record?lang=en").get_data(as_text=True)
    assert "My institution's record — Bank A" in own and "Bank B" not in own
    assert "<strong>1</strong>Open breaches" in own and '<td>2026-10-05</td><td>1</td>' in own
    other = browser("officer-b").get("/inbox/record?lang=en").get_data(as_text=True)
    assert "— Bank B" in other and "Bank A" not in other and "<strong>0</strong>Open breaches" in other
    assert browser("supervisor").get("/inbox/record").status_code == 404
