"""The breach CSV is streamed: the response is a generator that reads the ledger while it is sent
(never the whole export built in memory), and its cells are neutralised like every CSV's."""

from __future__ import annotations

import csv
import io
import types

from engine.models import Institution
from engine.workflow.timers import sweep_due_timers
from tests.conftest import cst
from web.csv_export import CHUNK_CHARACTERS, csv_stream

ATTACK = "=cmd|' /C calc'!A0"


def test_a_streamed_csv_reads_its_rows_only_as_it_is_sent(web_app):
    taken = []

    def rows():
        for i in range(20_000):
            taken.append(i)
            yield [f"LA{i:08d}", ATTACK, "@SUM(1)", i]

    with web_app.test_request_context("/"):
        response = csv_stream(["=header", "b", "c", "d"], rows(), "x.csv")
        assert response.is_streamed and isinstance(response.response, types.GeneratorType)
        pieces = iter(response.response)
        first = next(pieces)
        assert 0 < len(taken) < 20_000 and len(first) >= CHUNK_CHARACTERS  # one piece read, not the export
        text = first + "".join(pieces)
    assert len(taken) == 20_000
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0] == ["'=header", "b", "c", "d"] and len(lines) == 20_001
    assert lines[1] == ["LA00000000", "'" + ATTACK, "'@SUM(1)", "0"]


def test_the_breach_csv_is_a_streamed_response_with_neutralised_cells(browser, parties, engine, clock):
    with engine.transaction() as session:
        session.get(Institution, parties.bank_a_id).name = ATTACK
    enterprise = browser("ent-user")
    for _ in range(3):
        enterprise.post("/my/applications/new", {
            "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
            "purpose": "x", "authorize": "yes"})
    clock.set(cst("2026-10-11 09:15"))
    sweep_due_timers(engine)
    response = browser("supervisor").get("/supervision/breaches.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == "attachment; filename=sla-breaches.csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 4 and {row[1] for row in rows[1:]} == {"'" + ATTACK}
    assert [row[4] for row in rows[1:]] == ["2026-10-11 09:15"] * 3
