"""A holiday schedule upload must plausibly be a whole year's; refusals say why, in the interface language."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from engine.models import CalendarYear
from engine.workflow.working_days import (
    ImplausibleSchedule,
    check_whole_year,
    chinese_calendar_rules,
    parse_schedule_csv,
)
from tests.conftest import scalar
from tests.schedules import whole_year_2027

THREE_LINES = "date,kind,name\n2027-01-01,休,元旦\n2027-10-01,休,国庆节\n"


def _upload(admin, text: str, lang: str = "zh"):
    return admin.client.post(f"/admin/calendar?lang={lang}", data={
        "csrf_token": admin.token, "schedule": (io.BytesIO(text.encode("utf-8")), "2027.csv")},
        content_type="multipart/form-data")


def _without(text: str, *prefixes: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith(prefixes))


def _loaded(engine) -> bool:
    return scalar(engine, sa.select(sa.func.count()).select_from(CalendarYear).where(CalendarYear.year == 2027)) > 0


def test_a_three_line_file_for_a_whole_year_is_refused_with_its_reason(browser, engine):
    admin = browser("admin")
    chinese = _upload(admin, THREE_LINES)
    assert chinese.status_code == 422
    assert "全年安排至少应列出 20 个放假日，本文件只列出 2 个。" in chinese.get_data(as_text=True)
    english = _upload(admin, THREE_LINES, "en")
    assert "A whole year&#39;s schedule lists at least 20 holidays; this file lists 2." in english.get_data(
        as_text=True)
    assert not _loaded(engine)


@pytest.mark.parametrize(("text", "reason"), [
    (_without(whole_year_2027(), "2027-10-0"), "缺少国庆节假期"),
    (_without(whole_year_2027(), "2027-02-0", "2027-02-1"), "缺少春节假期"),
    (_without(whole_year_2027(), "2027-01-01"), "元旦（1月1日）不是放假日"),
    (_without(whole_year_2027(), "2027-01-31", "2027-02-20", "2027-04-25", "2027-05-08", "2027-09-26",
              "2027-10-09"), "全年安排应有调休上班日"),
    (whole_year_2027() + "2027-03-03,班,调休\n", "2027-03-03 本来就是工作日；只有周末才能作为调休上班日"),
    (whole_year_2027() + "2027-10-01,休,国庆节\n", "2027-10-01 重复列出"),
    (whole_year_2027() + "2028-01-01,休,元旦\n", "所有日期必须在第一行所在的 2027 年内"),
])
def test_implausible_or_inconsistent_years_are_refused_with_the_reason(browser, engine, text, reason):
    response = _upload(browser("admin"), text)
    assert response.status_code == 422 and reason in response.get_data(as_text=True)
    assert not _loaded(engine)


def test_a_real_year_is_accepted(browser, engine):
    response = _upload(browser("admin"), whole_year_2027())
    assert response.status_code == 302 and _loaded(engine)


def test_every_official_year_since_2004_passes_the_check():
    rules, years = chinese_calendar_rules()
    for year in sorted(years):
        check_whole_year(year, [rule for rule in rules if rule.day.year == year])
    with pytest.raises(ImplausibleSchedule):
        check_whole_year(*parse_schedule_csv(THREE_LINES))
