"""The command-line entry points: deadline, calendar load, init-db, sweep."""

from __future__ import annotations

import pytest

from web import create_app


@pytest.fixture
def app(cli_database_url):
    return create_app({"TESTING": True, "DATABASE_URL": cli_database_url})


def test_deadline_command_prints_the_utc_instant(app):
    result = app.test_cli_runner().invoke(args=[
        "deadline", "--from", "2026-09-30T10:00:00+08:00", "--working-days", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-10-10T16:00:00+00:00"
    assert lines[1] == "= 2026-10-10 24:00 Asia/Shanghai"
    assert "PROVISIONAL" not in result.output


def test_deadline_command_says_when_a_deadline_is_provisional(app):
    result = app.test_cli_runner().invoke(args=[
        "deadline", "--from", "2026-12-30T10:00:00+08:00", "--working-days", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "2027-01-04T16:00:00+00:00"
    assert "PROVISIONAL" in result.output


@pytest.mark.parametrize("start", ["2026-09-30T10:00:00", "yesterday"])
def test_deadline_command_refuses_a_bad_instant(app, start):
    result = app.test_cli_runner().invoke(args=["deadline", "--from", start, "--working-days", "3"])
    assert result.exit_code == 2
    assert "--from" in result.output and "Traceback" not in result.output


def test_calendar_load_reports_what_it_did(app, tmp_path):
    schedule = tmp_path / "2027.csv"
    schedule.write_text("date,kind,name\n2027-01-01,holiday,元旦\n", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["calendar", "load", str(schedule)])
    assert refused.exit_code == 1 and "at least 20 holidays" in refused.output
    result = app.test_cli_runner().invoke(args=["calendar", "load", "--partial", str(schedule)])
    assert result.exit_code == 0, result.output
    assert "Loaded 1 days for 2027" in result.output
    after = app.test_cli_runner().invoke(args=[
        "deadline", "--from", "2026-12-30T10:00:00+08:00", "--working-days", "3"])
    assert after.output.splitlines()[0] == "2027-01-05T16:00:00+00:00"
    assert "PROVISIONAL" not in after.output


def test_calendar_load_refuses_a_malformed_file_with_its_line(app, tmp_path):
    schedule = tmp_path / "bad.csv"
    schedule.write_text("date,kind,name\n2027-13-01,holiday,元旦\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "load", str(schedule)])
    assert result.exit_code == 1
    assert "line 2" in result.output and "Traceback" not in result.output


def test_init_db_with_demo_data_then_sweep(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db", "--demo"])
    assert first.exit_code == 0 and "Demo data loaded." in first.output
    again = runner.invoke(args=["init-db", "--demo"])
    assert "Demo data already present." in again.output
    swept = runner.invoke(args=["sweep"])
    assert swept.exit_code == 0 and "Fired timers: 0" in swept.output
    purged = runner.invoke(args=["purge"])
    assert purged.exit_code == 0 and "Purged: 0 idempotency records" in purged.output


def test_landing_page_shows_no_figures_to_anonymous_users_in_chinese_and_english(app):
    app.test_cli_runner().invoke(args=["init-db", "--demo"])
    client = app.test_client()
    chinese = client.get("/")
    assert chinese.status_code == 200
    page = chinese.get_data(as_text=True)
    assert "登录" in page and "未结申请" not in page
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Sign in" in english and "Open applications" not in english
    assert client.get("/no-such-page").status_code == 404


def test_signed_in_users_land_on_their_own_page_and_authors_see_the_figures(browser):
    assert browser("officer-a").get("/").headers["Location"].endswith("/inbox")
    assert browser("supervisor").get("/").headers["Location"].endswith("/supervision")
    page = browser("author").get("/?lang=en").get_data(as_text=True)
    assert "Open applications" in page
