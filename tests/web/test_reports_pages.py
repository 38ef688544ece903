"""The reports page and its downloads: figures, tenancy, the XLSX matching the page, formula cells neutralised."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from engine.loans.reports import produced
from engine.models import LoanProduct
from tests.report_helpers import take_the_quarter

Q4 = "/reports?kind=quarter&period=2026-Q4"


class _Tables(HTMLParser):
    """The page's tables by id: each a list of rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id", "").startswith("report-"):
            self._table = self.tables.setdefault(dict(attrs)["id"], [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def page_tables(response) -> dict[str, list[list[str]]]:
    assert response.status_code == 200, response.status_code
    parser = _Tables()
    parser.feed(response.get_data(as_text=True))
    return parser.tables


@pytest.fixture
def quarter(engine, parties, submit, clock, web_app):
    return take_the_quarter(engine, parties, submit, clock)


def test_the_supervisor_sees_every_institution_and_the_platform(browser, quarter):
    tables = page_tables(browser("supervisor").get(Q4))
    success = tables["report-success"]
    assert success[0] == ["金融机构", "申请企业数", "获得贷款的企业数", "获贷率（%）"]
    assert success[1:] == [["全平台", "2", "1", "50.0 %"], ["Bank A", "2", "1", "50.0 %"],
                           ["Bank B", "1", "0", "0.0 %"]]
    steps = tables["report-steps"]
    assert steps[1][:8] == ["全平台", "3", "3", "3", "2", "1", "2", "0"]
    assert steps[2][8:11] == ["500,000.00", "450,000.00", "4.0722 %"]
    timeliness = tables["report-timeliness"]
    assert timeliness[2][1:7] == ["100.0 %", "100.0 %", "50.0 %", "2.0", "0.0", "3.5"]
    assert [row[0] for row in tables["report-region"][1:]] == ["430100 长沙市", "430200 株洲市"]
    assert tables["report-product"][1][0] == "Product A (Bank A)"


def test_the_default_is_the_last_closed_month(browser, quarter):
    page = browser("supervisor").get("/reports").get_data(as_text=True)
    assert 'value="2026-12" selected' in page


def test_an_officer_sees_only_their_institution(browser, parties, quarter):
    officer = browser("officer-b")
    tables = page_tables(officer.get(Q4))
    assert [row[0] for row in tables["report-success"][1:]] == ["Bank B"]
    page = officer.get(Q4).get_data(as_text=True)
    assert "Bank A" not in page and "全平台" not in page
    assert officer.get(f"{Q4}&institution={parties.bank_a_id}").status_code == 404
    assert officer.get(f"/reports/report.xlsx?kind=quarter&period=2026-Q4&institution={parties.bank_a_id}"
                       ).status_code == 404
    assert officer.get(f"{Q4}&institution={parties.bank_b_id}").status_code == 200


def test_enterprise_users_get_404(browser, quarter):
    enterprise = browser("ent-user")
    for path in (Q4, "/reports/report.csv", "/reports/report.xlsx", "/reports/produced/1.csv"):
        assert enterprise.get(path).status_code == 404


def test_a_supervisor_may_narrow_to_one_institution(browser, parties, quarter):
    tables = page_tables(browser("supervisor").get(f"{Q4}&institution={parties.bank_b_id}"))
    assert [row[0] for row in tables["report-steps"][1:]] == ["Bank B"]
    assert browser("supervisor").get(f"{Q4}&institution=999999").status_code == 404


def _number(text: str):
    text = text.replace(",", "").replace(" %", "")
    return None if text == "—" else Decimal(text)


def test_the_xlsx_opens_and_matches_the_page(browser, quarter):
    supervisor = browser("supervisor")
    tables = page_tables(supervisor.get(Q4))
    response = supervisor.get("/reports/report.xlsx?kind=quarter&period=2026-Q4")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.data))
    sheets = workbook.sheetnames
    assert sheets[0] == "说明" and len(sheets) == 1 + len(tables)
    for (table_id, rows), sheet_name in zip(tables.items(), sheets[1:], strict=True):
        cells = [list(row) for row in workbook[sheet_name].iter_rows(values_only=True)]
        assert cells[0] == rows[0], table_id  # the same Chinese headers
        assert len(cells) == len(rows), table_id
        for page_row, sheet_row in zip(rows[1:], cells[1:], strict=True):
            assert sheet_row[0] == page_row[0]
            for shown, value in zip(page_row[1:], sheet_row[1:], strict=True):
                expected = _number(shown)
                if expected is None:
                    assert value is None, (table_id, page_row)
                else:
                    assert Decimal(str(value)) == expected, (table_id, page_row, shown, value)


def test_the_downloads_speak_english_when_asked(browser, quarter):
    response = browser("supervisor").get("/reports/report.xlsx?kind=quarter&period=2026-Q4&lang=en")
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames[0] == "Notes"
    success = workbook["Loan success rate"]
    assert [cell.value for cell in success[1]] == ["Institution", "Enterprises that applied",
                                                   "Enterprises that obtained a loan", "Loan success rate (获贷率, %)"]
    assert success["A2"].value == "Whole platform" and success["D2"].value == 50.0


def test_formula_cells_are_neutralised_in_csv_and_xlsx(browser, engine, parties, quarter):
    with engine.transaction() as session:
        session.execute(sa.update(LoanProduct).where(LoanProduct.id == parties.product_a_id).values(
            name="=HYPERLINK(\"http://evil.example\",\"x\")"))
    supervisor = browser("supervisor")
    text = supervisor.get("/reports/report.csv?kind=quarter&period=2026-Q4").get_data(as_text=True)
    cells = [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=HYPERLINK(\"http://evil.example\",\"x\") (Bank A)" in cells
    workbook = load_workbook(io.BytesIO(supervisor.get("/reports/report.xlsx?kind=quarter&period=2026-Q4").data))
    products = workbook["产品"]
    assert products["A2"].value.startswith("'=HYPERLINK") and products["A2"].data_type == "s"
    assert not any(isinstance(cell.value, str) and cell.value.startswith("=")
                   for sheet in workbook for row in sheet.iter_rows() for cell in row)


def test_produced_reports_are_listed_and_downloaded_per_tenant(browser, engine, parties, quarter):
    made = produced.produce_closed_periods(engine)  # every closed period since the first application
    assert sorted(item.period.key for item in made) == [
        "2026", "2026-09", "2026-10", "2026-11", "2026-12", "2026-H2", "2026-Q3", "2026-Q4"]
    q4 = next(item.id for item in made if item.period.key == "2026-Q4")
    page = browser("supervisor").get("/reports").get_data(as_text=True)
    assert f"/reports/produced/{q4}.xlsx" in page
    workbook = load_workbook(io.BytesIO(browser("supervisor").get(f"/reports/produced/{q4}.xlsx").data))
    assert [row[0] for row in workbook["获贷率"].iter_rows(min_row=2, values_only=True)] == [
        "全平台", "Bank A", "Bank B"]
    own = load_workbook(io.BytesIO(browser("officer-b").get(f"/reports/produced/{q4}.xlsx").data))
    assert [row[0] for row in own["获贷率"].iter_rows(min_row=2, values_only=True)] == ["Bank B"]
    csv_text = browser("officer-b").get(f"/reports/produced/{q4}.csv").get_data(as_text=True)
    assert "Bank A" not in csv_text and "Bank B" in csv_text
    assert browser("officer-b").get("/reports/produced/999999.csv").status_code == 404


def test_the_board_calls_approved_over_decided_the_approval_rate(browser, quarter):
    board = browser("supervisor").get("/supervision").get_data(as_text=True)
    assert "审批通过率" in board and "获贷率" not in board
    record = browser("officer-a").get("/inbox/record").get_data(as_text=True)
    assert "审批通过率" in record and "获贷率" not in record
    assert re.search(r'href="/reports"', board)


def test_a_produced_report_keeps_the_targets_it_was_produced_against(browser, engine, quarter, web_app):
    from engine.loans.reports.targets import Targets

    made = produced.produce_closed_periods(engine, targets=Targets({2026: 1234}, 65))
    q4 = next(item.id for item in made if item.period.key == "2026-Q4")
    web_app.config.update(LOAN_SUCCESS_TARGET_PERCENT=50, NEW_CREDIT_TARGETS_YI="2026:1500")  # changed since
    kept = browser("supervisor").get(f"/reports/produced/{q4}.csv").get_data(as_text=True)
    assert "方案目标为 65%" in kept and "方案目标为 50%" not in kept
    rows = list(csv.reader(io.StringIO(kept.lstrip("\ufeff"))))
    new_credit = rows[[row[:1] for row in rows].index(["2026年新增授信"]) + 2]  # the title, the header, the platform
    assert new_credit[0] == "全平台" and new_credit[2] == "1234"
    live = browser("supervisor").get("/reports/report.csv?kind=quarter&period=2026-Q4").get_data(as_text=True)
    assert "方案目标为 50%" in live and ",1500," in live


def test_a_report_produced_before_targets_were_kept_shows_todays(browser, engine, quarter, web_app):
    made = produced.produce_closed_periods(engine)  # no targets: as the scheduler produced them before
    q4 = next(item.id for item in made if item.period.key == "2026-Q4")
    web_app.config.update(LOAN_SUCCESS_TARGET_PERCENT=55)
    text = browser("supervisor").get(f"/reports/produced/{q4}.csv").get_data(as_text=True)
    assert "方案目标为 55%" in text and ",1500," in text
