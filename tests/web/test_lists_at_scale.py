"""Lists on a database of 10,000 applications: totals, keyset pages, sorting, search, and tenancy kept."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from bench.pages import NOW, PASSWORD, TOKEN, fill
from engine.models import Enterprise, LoanApplication, TaskRow
from engine.platform.bootstrap import build_engine
from engine.workflow.clock import ControlledClock
from engine.workflow.database import create_db_engine
from tests.conftest import ON_POSTGRES, POSTGRES_URL
from web import create_app

APPLICATIONS = 10_000
BANK = 1  # bench.pages' officer works at institution 1; enterprise 1 applies to many institutions
COUNT = re.compile(r'<span class="pager-count">([^<]*)</span>')
NEXT, PREVIOUS = re.compile(r'<a rel="next" href="([^"]+)"'), re.compile(r'<a rel="prev" href="([^"]+)"')
REFERENCE = re.compile(r'>(LA\d{8}[0-9A-F]{8})</a>')


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A database filled the way bench/pages.py fills it, shared by this module's tests (read only)."""
    scratch = None
    if ON_POSTGRES:
        scratch = f"lists_{int(time.time())}"
        admin = create_db_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {scratch}")
        url = sa.engine.make_url(POSTGRES_URL).set(database=scratch).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('lists') / 'lists.db'}"
    fill(url, APPLICATIONS)
    engine = build_engine(url, ControlledClock(NOW))
    app = create_app({"TESTING": True, "DATABASE_URL": url}, engine=engine)
    yield app, engine
    engine.session_factory.kw["bind"].dispose()
    if scratch:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        admin.dispose()


def _client(app, username):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def _page(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    return html, COUNT.search(html).group(1), REFERENCE.findall(html.split("<tbody>")[-1])


def _link(pattern, html):
    found = pattern.search(html)
    return found.group(1).replace("&amp;", "&") if found else None


def _walk(client, path, pattern=NEXT):
    """Every page from `path` on, following the rel=next (or rel=prev) links: [(path, count, references)]."""
    pages = []
    while path:
        html, count, references = _page(client, path)
        pages.append((path, count, references))
        path = _link(pattern, html)
    return pages


def _scalar(engine, query):
    with engine.reading() as session:
        return session.scalar(query)


def test_the_inbox_shows_its_total_and_pages_through_every_open_task(big):
    app, engine = big
    with engine.reading() as session:
        expected = sorted(session.scalars(sa.select(LoanApplication.reference).join(
            TaskRow, TaskRow.application_id == LoanApplication.id).where(
            TaskRow.institution_id == BANK, TaskRow.state == "open", TaskRow.role == "institution")))
    assert len(expected) > 1_000  # more than the count goes: shown as "1,000+"
    officer = _client(app, "officer")
    pages = _walk(officer, "/inbox")
    assert [count for _, count, _ in pages[:2]] == ["1–50 / 1,000+", "51–100 / 1,000+"]
    assert sorted(ref for _, _, references in pages for ref in references) == expected  # no repeat, no gap
    last = len(expected)
    assert pages[-1][1] == f"{last - len(pages[-1][2]) + 1:,}–{last:,} / 1,000+"
    # Back from the last page to the first through the rel=prev links: the same pages, in reverse.
    backwards = _walk(officer, pages[-1][0], PREVIOUS)
    assert [refs for _, _, refs in reversed(backwards)] == [refs for _, _, refs in pages]
    assert backwards[-1][1] == "1–50 / 1,000+"


def test_the_inbox_sorts_by_amount_both_ways(big):
    app, engine = big
    officer = _client(app, "officer")

    def amounts(path):
        html = officer.get(path).get_data(as_text=True).split("<tbody>")[1]
        return [float(a.replace(",", "")) for a in re.findall(r'text-align:right">([\d,]+\.\d\d)<', html)]

    rising, falling = amounts("/inbox?sort=amount"), amounts("/inbox?sort=-amount")
    assert len(rising) == 50 and rising == sorted(rising) and falling == sorted(falling, reverse=True)
    assert falling[0] >= rising[-1]


def test_an_officer_finds_applications_of_the_own_institution_only(big):
    app, engine = big
    officer = _client(app, "officer")
    name = _scalar(engine, sa.select(Enterprise.name).where(Enterprise.id == 1))
    own = _scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication).where(
        LoanApplication.enterprise_id == 1, LoanApplication.institution_id == BANK))
    elsewhere = _scalar(engine, sa.select(LoanApplication.reference).where(
        LoanApplication.enterprise_id == 1, LoanApplication.institution_id != BANK).limit(1))
    assert own > 0 and elsewhere
    html, count, references = _page(officer, f"/inbox?q={name}")
    assert count.endswith(f" / {own:,}") and len(references) == min(own, 50)
    with engine.reading() as session:
        institutions = set(session.scalars(sa.select(LoanApplication.institution_id).where(
            LoanApplication.reference.in_(references))))
    assert institutions == {BANK}
    # Another institution's application is not found by its reference, its name or its credit code.
    _, count, references = _page(officer, f"/inbox?q={elsewhere}")
    assert count == "0 / 0" and references == []


def test_an_officer_finds_an_application_by_reference_and_by_credit_code(big):
    app, engine = big
    officer = _client(app, "officer")
    with engine.reading() as session:
        reference, code = session.execute(sa.select(LoanApplication.reference, Enterprise.credit_code).join(
            Enterprise, Enterprise.id == LoanApplication.enterprise_id).where(
            LoanApplication.institution_id == BANK, LoanApplication.status == "settled").limit(1)).one()
    _, count, references = _page(officer, f"/inbox?q={reference.lower()}")
    assert count == "1–1 / 1" and references == [reference]  # closed applications are found too
    with engine.reading() as session:
        expected = session.scalar(sa.select(sa.func.count()).select_from(LoanApplication).join(
            Enterprise, Enterprise.id == LoanApplication.enterprise_id).where(
            Enterprise.credit_code == code, LoanApplication.institution_id == BANK))
    _, count, references = _page(officer, f"/inbox?q={code}")
    assert count.endswith(f" / {expected:,}") and reference in references


def test_a_supervisor_searches_every_application_and_filters_by_status(big):
    app, engine = big
    supervisor = _client(app, "supervisor")
    _, count, references = _page(supervisor, "/supervision/applications")
    assert count == f"1–50 / {APPLICATIONS:,}" and len(references) == 50
    name = _scalar(engine, sa.select(Enterprise.name).where(Enterprise.id == 1))
    everywhere = _scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication).where(
        LoanApplication.enterprise_id == 1))
    _, count, _refs = _page(supervisor, f"/supervision/applications?q={name}")
    assert count.endswith(f" / {everywhere:,}")
    settled = _scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication).where(
        LoanApplication.status == "settled"))
    html, count, first = _page(supervisor, "/supervision/applications?status=settled")
    html, count, second = _page(supervisor, _link(NEXT, html))
    html, count, third = _page(supervisor, _link(NEXT, html))
    assert count == f"101–150 / {settled:,}" and not set(first) & (set(second) | set(third))
    assert _page(supervisor, _link(PREVIOUS, html))[2] == second


def test_the_board_pages_through_the_breaches_with_their_total(big):
    app, engine = big
    from engine.models import SlaBreach
    breaches = _scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach))
    supervisor = _client(app, "supervisor")
    html, count, first = _page(supervisor, "/supervision")
    assert count == f"1–50 / {breaches:,}"
    _, count, second = _page(supervisor, _link(NEXT, html))
    assert count == f"51–100 / {breaches:,}" and not set(first) & set(second)


def test_the_language_switch_keeps_the_search_sort_and_page(big):
    app, _ = big
    officer = _client(app, "officer")
    second = _link(NEXT, officer.get("/inbox?q=Enterprise&sort=-amount").get_data(as_text=True))
    html = officer.get(second).get_data(as_text=True)
    english = re.search(r'<a href="([^"]+)" hreflang="en">', html).group(1).replace("&amp;", "&")
    cursor = next(arg for arg in second.split("?")[1].split("&") if arg.startswith("after="))
    assert english.startswith("/inbox?") and {"q=Enterprise", "sort=-amount", cursor, "at=51", "lang=en"} <= set(
        english.split("?")[1].split("&"))
    page = _client(app, "officer").get(english).get_data(as_text=True)
    assert "Find an application" in page and "51–100 / " in page
