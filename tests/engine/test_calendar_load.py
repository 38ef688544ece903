"""Loading next year's official schedule recomputes provisional deadlines of running instances."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, CalendarYear, LoanApplication, TaskRow, TimerRow
from engine.platform.bootstrap import build_engine
from engine.workflow.calendar_service import load_official_schedule
from engine.workflow.timers import sweep_due_timers
from engine.workflow.working_days import CalendarError
from tests.conftest import cst, rows, scalar

# A plausible 2027 schedule: New Year's Day on Friday 1/1, no make-up day; Spring Festival 2/6-2/14.
# Only a part of the year: loaded with partial=True (a whole year is checked in tests/web/test_schedule_uploads.py).
SCHEDULE_2027 = """date,kind,name
2027-01-01,holiday,元旦
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10,holiday,春节
2027-02-11,holiday,春节
2027-02-12,holiday,春节
2027-02-20,workday,春节
"""


def _application(engine, application_id):
    with engine.transaction() as session:
        return session.get(LoanApplication, application_id)


def test_deadline_across_the_year_end_is_provisional(engine, submit, clock):
    clock.set(cst("2026-12-29 15:00"))
    application_id = submit()  # 12/30, 12/31, then 2027-01-01 counted as a weekday
    app = _application(engine, application_id)
    assert app.accept_due.isoformat() == "2027-01-01T16:00:00+00:00"
    assert app.accept_due_provisional is True
    provisional = rows(engine, sa.select(TimerRow.bpmn_id).where(TimerRow.provisional.is_(True)))
    assert sorted(r.bpmn_id for r in provisional) == ["Accept_Deadline"]  # the reminder falls on 12/31
    assert scalar(engine, sa.select(TaskRow.due_provisional)) is True


def test_loading_the_official_schedule_moves_provisional_deadlines(engine, submit, clock):
    clock.set(cst("2026-12-29 15:00"))
    late_december = submit()
    clock.set(cst("2026-12-21 09:00"))
    settled_year = submit()  # 12/22, 12/23, 12/24: unaffected
    before = _application(engine, settled_year).accept_due

    result = load_official_schedule(engine, SCHEDULE_2027, "2027.csv", "admin", partial=True)

    assert (result.year, result.rules, result.instances_recomputed, result.timers_moved) == (2027, 7, 1, 1)
    app = _application(engine, late_december)
    # 1/1 is now a holiday and 1/2-1/3 a weekend: 12/30, 12/31, 1/4 -> 2027-01-04 24:00 CST.
    assert app.accept_due.isoformat() == "2027-01-04T16:00:00+00:00"
    assert app.accept_due_provisional is False
    assert scalar(engine, sa.select(sa.func.count()).select_from(TimerRow).where(
        TimerRow.provisional.is_(True))) == 0
    task_due = scalar(engine, sa.select(TaskRow.due_at).where(TaskRow.application_id == late_december))
    assert task_due == app.accept_due
    assert _application(engine, settled_year).accept_due == before
    assert scalar(engine, sa.select(CalendarYear.source).where(CalendarYear.year == 2027)) == "2027.csv"
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "deadlines_recomputed")) == 1


def test_recomputed_timer_fires_at_its_new_time(engine, parties, submit, clock):
    clock.set(cst("2026-12-29 15:00"))
    application_id = submit()
    load_official_schedule(engine, SCHEDULE_2027, "2027.csv", "admin", partial=True)
    clock.set(cst("2027-01-02 00:30"))  # after the provisional deadline, before the official one
    sweep_due_timers(engine)
    assert rows(engine, sa.select(TimerRow.bpmn_id).where(TimerRow.state == "fired")) != []
    assert _application(engine, application_id).status == "submitted"
    from engine.models import SlaBreach
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 0
    clock.set(cst("2027-01-05 00:00"))
    sweep_due_timers(engine)
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 1
    services.accept(engine, parties.officer_a, application_id)


def test_a_malformed_schedule_changes_nothing(engine, submit, clock):
    clock.set(cst("2026-12-29 15:00"))
    submit()
    with pytest.raises(CalendarError):
        load_official_schedule(engine, "date,kind,name\n2027-01-01,party,元旦\n", "bad.csv", "admin")
    assert scalar(engine, sa.select(CalendarYear).where(CalendarYear.year == 2027)) is None
    assert scalar(engine, sa.select(sa.func.count()).select_from(TimerRow).where(
        TimerRow.provisional.is_(True))) == 1


def _fingerprint_checks(engine, reads: int) -> int:
    """How many freshness checks `reads` calendar reads in separate transactions make."""
    statements: list[str] = []
    bind = engine.session_factory.kw["bind"]

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if "calendar_year" in statement and "count(" in statement:
            statements.append(statement)
    sa.event.listen(bind, "before_cursor_execute", count)
    try:
        for _ in range(reads):
            with engine.reading() as session:
                engine.calendars.get(session)
    finally:
        sa.event.remove(bind, "before_cursor_execute", count)
    return len(statements)


def test_the_calendar_is_rechecked_at_most_once_per_interval_and_at_once_after_a_load_here(engine):
    engine.calendars.invalidate()
    engine.calendars.recheck_seconds = 3600
    assert _fingerprint_checks(engine, 5) == 1  # the first read checks, the next four reuse it
    engine.calendars.invalidate()
    assert _fingerprint_checks(engine, 3) == 1
    engine.calendars.recheck_seconds = 0
    assert _fingerprint_checks(engine, 3) == 3


def test_a_year_loaded_by_another_process_is_seen_after_the_interval(engine, database_url, clock):
    """Another engine on the same database stands for another process: its load is seen here once the
    interval has passed (not at once: that is the price of not asking in every operation)."""
    engine.calendars.recheck_seconds = 3600
    with engine.reading() as session:
        assert not engine.calendars.get(session).is_official_year(2027)
    other = build_engine(database_url, clock)
    load_official_schedule(other, SCHEDULE_2027, "test", "admin", partial=True)
    other.session_factory.kw["bind"].dispose()
    with engine.reading() as session:
        assert not engine.calendars.get(session).is_official_year(2027)  # within the interval
    engine.calendars.recheck_seconds = 0
    with engine.reading() as session:
        assert engine.calendars.get(session).is_official_year(2027)


def test_a_year_loaded_in_this_process_is_used_at_once(engine):
    engine.calendars.recheck_seconds = 3600
    with engine.reading() as session:
        assert not engine.calendars.get(session).is_official_year(2027)
    load_official_schedule(engine, SCHEDULE_2027, "test", "admin", partial=True)
    with engine.reading() as session:
        assert engine.calendars.get(session).is_official_year(2027)


def test_a_load_committed_while_a_check_runs_is_not_hidden_by_that_check(engine):
    """A check that read the fingerprint before a load here was invalidated must not count as fresh."""
    engine.calendars.recheck_seconds = 3600
    engine.calendars.invalidate()
    bind = engine.session_factory.kw["bind"]
    invalidated: list[bool] = []

    def load_meanwhile(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if "calendar_year" in statement and "count(" in statement and not invalidated:
            invalidated.append(True)
            engine.calendars.invalidate()  # as load_official_schedule does after its commit
    sa.event.listen(bind, "before_cursor_execute", load_meanwhile)
    try:
        with engine.reading() as session:
            engine.calendars.get(session)
    finally:
        sa.event.remove(bind, "before_cursor_execute", load_meanwhile)
    assert invalidated and _fingerprint_checks(engine, 2) == 1  # the next read checks again, then reuses
