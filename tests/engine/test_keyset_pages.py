"""Keyset pages of the inbox and the supervisors' lists: every sort order the user can choose walks
every row once, forwards and backwards, and rows inserted between two requests neither repeat nor
push rows off the next page (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.loans import listing
from engine.loans.actors import SUPERVISOR, Actor
from engine.models import LoanApplication, TaskRow

LIMIT = 7
SUPERVISOR_ACTOR = Actor("supervisor", SUPERVISOR)


@pytest.fixture
def inbox(engine, parties, submit, clock):
    """31 open acceptance tasks of bank A: deadlines shared by several tasks, some without one (NULL)."""
    for i in range(31):
        clock.advance(hours=20 if i % 4 == 0 else 0)
        submit(amount=f"{100_000 + (i * 7919 % 13) * 10_000}.00")
    with engine.transaction() as session:
        ids = session.scalars(sa.select(TaskRow.id).where(TaskRow.state == "open").order_by(TaskRow.id)).all()
        session.execute(sa.update(TaskRow).where(TaskRow.id.in_(ids[::5])).values(due_at=None))
    return parties.bank_a_id


def _expected(engine, sort, descending, bank):
    with engine.reading() as session:
        rows = session.execute(sa.select(TaskRow.id, TaskRow.application_id, TaskRow.due_at, LoanApplication.amount,
                                         LoanApplication.submitted_at).join(
            LoanApplication, LoanApplication.id == TaskRow.application_id).where(
            TaskRow.institution_id == bank, TaskRow.state == "open", TaskRow.role == "institution")).all()
    keys = {"due": lambda r: (r.due_at is None, r.due_at or r.submitted_at, r.id),
            "amount": lambda r: (r.amount, r.application_id, r.id),
            "submitted": lambda r: (r.submitted_at, r.application_id, r.id)}
    return [row.id for row in sorted(rows, key=keys[sort], reverse=descending)]


def _inbox(engine, bank, **kwargs):
    with engine.reading() as session:
        return listing.inbox_page(session, bank, limit=LIMIT, **kwargs)


def _walk(engine, bank, sort, descending):
    pages, after = [], None
    while True:
        page = _inbox(engine, bank, sort=sort, descending=descending, after=after)
        pages.append(page)
        after = page.next
        if after is None:
            return pages


def _ids(page):
    return [row.task.id for row in page.items]


@pytest.mark.parametrize("sort", ["due", "amount", "submitted"])
@pytest.mark.parametrize("descending", [False, True])
def test_every_sort_order_walks_every_task_once_forwards_and_backwards(engine, inbox, sort, descending):
    pages = _walk(engine, inbox, sort, descending)
    assert [i for page in pages for i in _ids(page)] == _expected(engine, sort, descending, inbox)
    assert pages[0].previous is None and all(len(_ids(page)) == LIMIT for page in pages[:-1])
    backwards, before = [], pages[-1].previous
    while before is not None:
        page = _inbox(engine, inbox, sort=sort, descending=descending, before=before)
        backwards.append(_ids(page))
        before = page.previous
    assert list(reversed(backwards)) == [_ids(page) for page in pages[:-1]]


def test_tasks_inserted_between_two_requests_neither_repeat_nor_push_rows_off(engine, inbox, submit, clock):
    first = _inbox(engine, inbox)
    old_order = _expected(engine, "due", False, inbox)
    assert _ids(first) == old_order[:LIMIT]
    clock.advance(days=1)
    new = [submit() for _ in range(6)]  # later deadlines: after the cursor
    with engine.transaction() as session:  # three of them due before everything seen so far
        early = session.scalar(sa.select(sa.func.min(TaskRow.due_at)).where(TaskRow.state == "open"))
        session.execute(sa.update(TaskRow).where(TaskRow.application_id.in_(new[:3])).values(
            due_at=early - timedelta(hours=1)))
    rest, after = [], first.next
    while after is not None:
        page = _inbox(engine, inbox, after=after)
        rest.extend(_ids(page))
        after = page.next
    new_order = _expected(engine, "due", False, inbox)
    assert rest == [i for i in new_order if i not in _ids(first) and new_order.index(i) >= 3]
    assert rest[:LIMIT] == old_order[LIMIT:2 * LIMIT]  # the next page is what it was before the inserts
    assert not set(rest) & set(_ids(first))
    with engine.reading() as session:
        seen_new = {t.application_id for t in session.scalars(sa.select(TaskRow).where(TaskRow.id.in_(rest)))}
    assert set(new[3:]) <= seen_new and not set(new[:3]) & seen_new  # the earlier ones are on the first page now


def test_the_supervisors_list_walks_every_application_with_its_kept_total(engine, inbox):
    for sort, descending in (("submitted", True), ("amount", False), ("reference", False), ("status", True)):
        seen, after = [], None
        while True:
            with engine.reading() as session:
                page = listing.find_applications(session, SUPERVISOR_ACTOR, sort=sort, descending=descending,
                                                 after=after, limit=LIMIT)
            assert (page.total, page.capped) == (31, False)
            seen.extend(found.application.id for found in page.items)
            after = page.next
            if after is None:
                break
        assert sorted(seen) == list(range(1, 32)) and len(seen) == 31


def test_a_cursor_that_is_not_ours_gives_the_first_page(engine, inbox):
    first = _ids(_inbox(engine, inbox))
    for junk in ("x", "W10", "WyJhIiwgMSwgMl0", "A" * 500, "WzAsICJub3QgYSBkYXRlIiwgMV0"):
        assert _ids(_inbox(engine, inbox, after=junk)) == first
