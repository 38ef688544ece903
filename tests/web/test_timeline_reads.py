"""The case timeline shows an institution's reads as one line per day, not one per page load."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication, TaskRow
from tests.conftest import cst, scalar


def _items(page: str) -> list[str]:
    timeline = page.split('<ol class="timeline">')[1].split("</ol>")[0]
    return [item.split("</li>")[0].strip() for item in timeline.split("<li>")[1:]]


def test_each_page_shows_one_line_per_institution_per_day(browser, submit, engine, clock):
    submit()  # 2026-09-30 10:00
    reference = scalar(engine, sa.select(LoanApplication.reference))
    officer, colleague = browser("officer-a"), browser("bank-admin-a")
    officer.get(f"/inbox/{reference}")
    clock.set(cst("2026-09-30 12:00"))
    colleague.get(f"/inbox/{reference}")  # another user of the same bank: the same line
    clock.set(cst("2026-09-30 12:30"))
    task = scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open", TaskRow.bpmn_id == "Accept"))
    assert officer.post(f"/tasks/{task}", {"note": ""}).status_code == 302
    clock.set(cst("2026-09-30 16:40"))
    officer.post(f"/inbox/{reference}/contact")  # a read and a disclosure
    clock.set(cst("2026-10-01 09:12"))
    officer.get(f"/inbox/{reference}")
    clock.set(cst("2026-10-01 09:30"))
    items = _items(officer.get(f"/inbox/{reference}").get_data(as_text=True))  # this load is on record too

    assert scalar(engine, sa.select(sa.func.count()).where(AuditEvent.action == "viewed")) == 5
    day_1 = "2026-09-30 Bank A 查看 3 次（首次 10:00，末次 16:40）"
    day_2 = "2026-10-01 Bank A 查看 2 次（首次 09:12，末次 09:30）"
    assert [item for item in items if "Bank A 查看" in item] == [day_1, day_2]
    assert items.index(day_1) == 1 and items[0].startswith("2026-09-30 10:00 — 提交申请")
    accepted = next(i for i, item in enumerate(items) if "— 金融机构受理" in item)
    revealed = next(i for i, item in enumerate(items) if "2026-09-30 16:40 — " in item)
    assert day_1 == items[1] and 1 < accepted < revealed < items.index(day_2) == len(items) - 1
    assert "机构查看了完整联系信息 (officer-a)" in items[revealed]  # the disclosure keeps its own line
    assert not any("金融机构查看" in item for item in items)  # no line per page load any more

    supervised = _items(browser("supervisor").get(f"/supervision/applications/{reference}").get_data(as_text=True))
    # the same lines for the supervisor, whose own reads are not disclosures (nothing on record)
    assert [item for item in supervised if "Bank A 查看" in item] == [day_1, day_2]

    english = _items(officer.get(f"/inbox/{reference}?lang=en").get_data(as_text=True))
    assert [item for item in english if "viewed it" in item] == [
        "2026-09-30 Bank A viewed it 3 times (first 10:00, last 16:40)",
        "2026-10-01 Bank A viewed it 3 times (first 09:12, last 09:30)"]

    clock.set(cst("2026-10-02 08:05"))
    single = _items(officer.get(f"/inbox/{reference}?lang=zh").get_data(as_text=True))
    assert single[-1] == "2026-10-02 Bank A 查看 1 次（08:05）"

    mine = _items(browser("ent-user").get(f"/my/applications/{reference}").get_data(as_text=True))
    assert not any("Bank A 查看" in item for item in mine)  # the enterprise's page lists no reads, as before
    assert any("16:40 — " in item for item in mine)  # the disclosure is still shown to the enterprise
