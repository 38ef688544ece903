"""Pages at a million applications on PostgreSQL (`make bench-scale`, issue 12 part 5).

A scratch database (created beside the admin URL's database and dropped afterwards; never `test`)
is filled with set-based SQL: one generated row per application with its random draws
(generate_series, seeded), then every table in one INSERT ... SELECT each: applications in every
status over half a year (30 institutions, bank 1 with a fifth; 200,000 enterprises), their process
instances, task rows (completed, cancelled and open, with deadlines), waiting timers and SLA breaches
(open, resolved by a late step, by a withdrawal). Working days are approximated by calendar days
(3 for acceptance, 14 for the decision). The board's kept figures are backfilled as migration 0021
does, then each page is fetched signed in through Flask's test client (median of several runs).

    python -m bench.scale [--applications 1000000] [--runs 7] [--admin URL] [--keep] [--reuse] [--write]

Prints `pages_1m_inbox_ms_pg: …` and `pages_1m_board_ms_pg: …` (targets 100 and 150 ms) and the other pages.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import UTC

import sqlalchemy as sa

from bench.pages import NOW, PASSWORD, TOKEN
from engine.loans.actors import ENTERPRISE, OFFICER, SUPERVISOR
from engine.loans.binding import LOAN_PROCESS_KEY
from engine.loans.figures_rebuild import rebuild
from engine.models import Base
from engine.platform.access import create_user
from engine.platform.bootstrap import build_engine, prepare
from engine.workflow.clock import ControlledClock
from engine.workflow.database import create_db_engine
from engine.workflow.definitions import latest_definition

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH = "bench_scale"
INSTITUTIONS = 30
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')
PAGES = (("board", "supervisor", "/supervision"),
         ("inbox", "officer", "/inbox"),
         ("inbox_next", "officer", None),  # the inbox's second page, by its rel=next link
         ("inbox_by_amount", "officer", "/inbox?sort=-amount"),
         ("applications", "supervisor", "/supervision/applications"),
         ("applications_settled", "supervisor", "/supervision/applications?status=settled"),
         ("enterprise_list", "enterprise", "/my/applications"),
         ("breach_csv_first_piece", "supervisor", "/supervision/breaches.csv"),  # the first 64 KB sent
         ("breach_csv", "supervisor", "/supervision/breaches.csv"))

DRAWS = """
CREATE UNLOGGED TABLE bench_draw AS
SELECT i AS id,
       CASE WHEN random() < 0.2 THEN 1 ELSE 2 + floor(random() * {others})::int END AS inst,
       CASE WHEN mod(i, 333) = 0 THEN 1 ELSE 2 + floor(random() * ({enterprises} - 1))::int END AS ent,
       TIMESTAMP '{now}' - random() * INTERVAL '182 days' AS submitted,
       (50000 + floor(random() * 495)::bigint * 10000) * 100 AS amount_fen,
       (ARRAY[6, 12, 24, 36])[1 + floor(random() * 4)::int] AS term,
       random() AS r_withdraw, random() AS r_reject, random() AS r_ratio, random() AS r_assignee,
       (ARRAY[0.1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 5])[1 + floor(random() * 12)::int] * INTERVAL '1 day'
           + random() * INTERVAL '8 hours' AS d_accept,
       INTERVAL '1 day' + random() * INTERVAL '16 days' AS d_decide,
       INTERVAL '1 day' + random() * INTERVAL '19 days' AS d_disburse,
       INTERVAL '30 days' + random() * INTERVAL '170 days' AS d_settle,
       INTERVAL '2 hours' + random() * INTERVAL '3 days' AS d_withdraw
FROM generate_series(1, {applications}) AS i
"""
# Beijing midnight after N calendar days, as naive UTC: the deadline "24:00 of the last day".
DUE = "(((({at}) + INTERVAL '8 hours')::date + {days})::timestamp - INTERVAL '8 hours')"
STAGES = """
CREATE UNLOGGED TABLE bench_app AS
WITH x AS (
  SELECT d.*, d.submitted + d.d_accept AS accept0, {accept_due} AS accept_due,
         CASE WHEN d.r_withdraw < 0.04
                   AND d.submitted + d.d_withdraw < LEAST(d.submitted + d.d_accept, TIMESTAMP '{now}')
              THEN d.submitted + d.d_withdraw END AS withdrawn_at
  FROM bench_draw d),
y AS (SELECT x.*, CASE WHEN withdrawn_at IS NULL AND accept0 <= TIMESTAMP '{now}' THEN accept0 END AS accepted_at
      FROM x),
z AS (SELECT y.*, CASE WHEN accepted_at IS NOT NULL THEN {decision_due} END AS decision_due,
             CASE WHEN accepted_at + d_decide <= TIMESTAMP '{now}' THEN accepted_at + d_decide END AS decided_at
      FROM y),
w AS (SELECT z.*, decided_at IS NOT NULL AND r_reject >= 0.3 AS approved,
             CASE WHEN decided_at IS NOT NULL AND r_reject >= 0.3 AND decided_at + d_disburse <= TIMESTAMP '{now}'
                  THEN decided_at + d_disburse END AS disbursed_at FROM z),
v AS (SELECT w.*, CASE WHEN disbursed_at + d_settle <= TIMESTAMP '{now}' THEN disbursed_at + d_settle END AS settled_at
      FROM w)
SELECT v.*,
       'LA' || to_char(submitted + INTERVAL '8 hours', 'YYYYMMDD') || lpad(upper(to_hex(id)), 8, '0') AS reference,
       CASE WHEN withdrawn_at IS NOT NULL THEN 'withdrawn' WHEN settled_at IS NOT NULL THEN 'settled'
            WHEN disbursed_at IS NOT NULL THEN 'disbursed' WHEN approved THEN 'approved'
            WHEN decided_at IS NOT NULL THEN 'rejected' WHEN accepted_at IS NOT NULL THEN 'accepted'
            ELSE 'submitted' END AS status,
       CASE WHEN approved
            THEN amount_fen * (CASE WHEN r_ratio < 0.34 THEN 10 WHEN r_ratio < 0.67 THEN 8 ELSE 5 END) / 10
            END AS approved_fen
FROM v
"""
STATEMENTS = [
    """INSERT INTO process_instance (id, definition_id, business_key, status, end_event, state, version, created_at,
                                     updated_at)
       SELECT id, {definition}, reference, CASE WHEN status IN ('withdrawn', 'rejected', 'settled') THEN 'completed'
              ELSE 'running' END, CASE status WHEN 'withdrawn' THEN 'End_Withdrawn' WHEN 'rejected' THEN 'End_Rejected'
              WHEN 'settled' THEN 'End_Settled' END, '{{}}', 1, submitted,
              COALESCE(settled_at, disbursed_at, decided_at, accepted_at, withdrawn_at, submitted) FROM bench_app""",
    """INSERT INTO loan_application (id, reference, enterprise_id, institution_id, product_id, instance_id, status,
              amount, term_months, purpose, submitted_at, submitted_by, accept_due, accept_due_provisional, accepted_at,
              accepted_by, decision_due, decision_due_provisional, decided_at, decided_by, decision_working_days,
              approved_amount, annual_rate, approved_term_months, rejection_reason, contract_number, disbursed_amount,
              disbursed_on, disbursed_at, settled_on, settled_at, withdrawn_at, updated_at)
       SELECT id, reference, ent, inst, inst, id, status, amount_fen, term, 'Working capital', submitted, 'ent-' || ent,
              accept_due, false, accepted_at, CASE WHEN accepted_at IS NOT NULL THEN 'officer' END, decision_due, false,
              decided_at, CASE WHEN decided_at IS NOT NULL THEN 'officer' END,
              CASE WHEN decided_at IS NOT NULL
                   THEN floor(extract(epoch FROM decided_at - submitted) / 86400 * 5 / 7)::int END,
              approved_fen, CASE WHEN approved THEN 38500 END, CASE WHEN approved THEN 12 END,
              CASE WHEN decided_at IS NOT NULL AND NOT approved THEN 'Insufficient cash flow' END,
              CASE WHEN disbursed_at IS NOT NULL THEN 'HT-' || id END,
              CASE WHEN disbursed_at IS NOT NULL THEN approved_fen END,
              (disbursed_at + INTERVAL '8 hours')::date, disbursed_at, (settled_at + INTERVAL '8 hours')::date,
              settled_at, withdrawn_at,
              COALESCE(settled_at, disbursed_at, decided_at, accepted_at, withdrawn_at, submitted)
       FROM bench_app""",
]
# One INSERT per step: (bpmn id, name, commitment, api step, who reaches it, created, due, done, cancelled)
TASKS = [
    ("Accept", "受理", "'accept'", "'accept'", "true", "submitted", "accept_due", "accepted_at", "withdrawn_at"),
    ("Decide", "审贷决定", "'decision'", "'decision'", "accepted_at IS NOT NULL", "accepted_at", "decision_due",
     "decided_at", "NULL::timestamp"),
    ("Disburse", "放款", "NULL", "'disbursement'", "approved", "decided_at", "NULL::timestamp", "disbursed_at",
     "NULL::timestamp"),
    ("Settle", "结清", "NULL", "'settlement'", "disbursed_at IS NOT NULL", "disbursed_at", "NULL::timestamp",
     "settled_at", "NULL::timestamp"),
]
TASK = """INSERT INTO task (instance_id, application_id, spiff_task_id, bpmn_id, name, lane, role, api_step, commitment,
              institution_id, assignee, state, created_at, due_at, due_provisional, completed_at, completed_by)
       SELECT id, id, md5(id::text || '{bpmn}'), '{bpmn}', '{name}', '金融机构', 'institution', {api}, {commitment},
              inst, CASE WHEN r_assignee < 0.5 THEN 'officer' END,
              CASE WHEN {done} IS NOT NULL THEN 'completed' WHEN {cancelled} IS NOT NULL THEN 'cancelled'
                   ELSE 'open' END,
              {created}, {due}, false, COALESCE({done}, {cancelled}),
              CASE WHEN {done} IS NOT NULL THEN 'officer' END
       FROM bench_app WHERE {reached}"""
TIMER = """INSERT INTO timer (instance_id, spiff_task_id, bpmn_id, kind, sla_kind, due_at, provisional, state, fired_at)
       SELECT id, md5(id::text || '{bpmn}{kind}'), '{bpmn}_{title}', '{kind}', '{sla}', {due} - INTERVAL '{offset}',
              false, 'waiting', NULL
       FROM bench_app WHERE {open} AND {due} - INTERVAL '{offset}' > TIMESTAMP '{now}'"""
BREACH = """INSERT INTO sla_breach (institution_id, application_id, kind, due_at, breached_at, provisional, resolved_at,
              late_seconds, late_working_days, resolution)
       SELECT inst, id, '{kind}', {due}, {due} + INTERVAL '30 seconds', false, {acted},
              CASE WHEN {acted} IS NOT NULL THEN extract(epoch FROM {acted} - {due})::int END,
              CASE WHEN {acted} IS NOT NULL THEN ceil(extract(epoch FROM {acted} - {due}) / 86400 * 5 / 7)::int END,
              CASE WHEN {acted} IS NOT NULL THEN {resolution} END
       FROM bench_app WHERE {due} IS NOT NULL AND COALESCE({acted}, TIMESTAMP '{now}') > {due}"""


def _sql(conn: sa.Connection, statement: str, label: str) -> None:
    began = time.perf_counter()
    conn.exec_driver_sql(statement)
    print(f"  {label}: {time.perf_counter() - began:.1f} s", flush=True)


def fill(url: str, applications: int) -> None:
    """Create the schema, the parties and users, then every row by set-based SQL."""
    db = create_db_engine(url)
    Base.metadata.create_all(db)
    db.dispose()
    engine = build_engine(url, ControlledClock(NOW))
    prepare(engine)
    enterprises = max(applications // 5, 10)
    with engine.transaction() as session:
        definition = latest_definition(session, LOAN_PROCESS_KEY).id
        session.execute(sa.text(
            "INSERT INTO institution (id, code, name, status) SELECT i, 'B' || lpad(i::text, 3, '0'), "
            "'Bank ' || lpad(i::text, 3, '0'), 'active' FROM generate_series(1, :n) i"), {"n": INSTITUTIONS})
        session.execute(sa.text(
            "INSERT INTO loan_product (id, institution_id, code, name, active) SELECT i, i, 'P' || i, 'Product ' || i, "
            "true FROM generate_series(1, :n) i"), {"n": INSTITUTIONS})
        session.execute(sa.text(
            "INSERT INTO enterprise (id, name, credit_code, applicant_kind) SELECT i, 'Enterprise ' || "
            "lpad(i::text, 6, '0'), '91430100MA' || lpad(i::text, 8, '0'), 'enterprise' FROM generate_series(1, :n) i"),
            {"n": enterprises})
        create_user(session, NOW, "supervisor", PASSWORD, SUPERVISOR)
        create_user(session, NOW, "officer", PASSWORD, OFFICER, institution_id=1)
        create_user(session, NOW, "enterprise", PASSWORD, ENTERPRISE, enterprise_id=1)
    engine.session_factory.kw["bind"].dispose()
    now = NOW.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = create_db_engine(url)
    with db.begin() as conn:
        conn.exec_driver_sql("SELECT setseed(0.42)")
        _sql(conn, DRAWS.format(others=INSTITUTIONS - 1, enterprises=enterprises, now=now, applications=applications),
             "draws")
        _sql(conn, STAGES.format(now=now, accept_due=DUE.format(at="d.submitted", days=5),
                                 decision_due=DUE.format(at="accepted_at", days=15)), "stages")
        for statement, label in zip(STATEMENTS, ("process_instance", "loan_application"), strict=True):
            _sql(conn, statement.format(definition=definition), label)
        for bpmn, name, commitment, api, reached, created, due, done, cancelled in TASKS:
            _sql(conn, TASK.format(bpmn=bpmn, name=name, commitment=commitment, api=api, reached=reached,
                                   created=created, due=due, done=done, cancelled=cancelled), f"task {bpmn}")
        for bpmn, sla, due, open_ in (
                ("Accept", "accept", "accept_due", "accepted_at IS NULL AND withdrawn_at IS NULL"),
                ("Decide", "decision", "decision_due", "decided_at IS NULL")):
            for kind, offset in (("deadline", "0 days"), ("reminder", "1 day")):
                _sql(conn, TIMER.format(bpmn=bpmn, kind=kind, title=kind.title(), sla=sla, due=due, offset=offset,
                                        open=open_, now=now), f"timer {bpmn} {kind}")
        _sql(conn, BREACH.format(kind="accept", due="accept_due", acted="COALESCE(accepted_at, withdrawn_at)",
                                 resolution="CASE WHEN accepted_at IS NOT NULL THEN 'acted' ELSE 'withdrawn' END",
                                 now=now), "breaches accept")
        _sql(conn, BREACH.format(kind="decision", due="decision_due", acted="decided_at", resolution="'acted'",
                                 now=now), "breaches decision")
        for table in ("process_instance", "loan_application", "task", "timer", "sla_breach", "institution",
                      "enterprise", "loan_product"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))")
        conn.exec_driver_sql("DROP TABLE bench_draw, bench_app")
        began = time.perf_counter()
        rebuild(conn)  # the kept figures, as migration 0021 backfills them
        print(f"  figures backfilled: {time.perf_counter() - began:.1f} s", flush=True)
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _sql(conn, "VACUUM ANALYZE", "vacuum analyze")  # what autovacuum does after a bulk load
    db.dispose()


def counts(url: str) -> dict[str, int]:
    db = create_db_engine(url)
    with db.connect() as conn:
        found = {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                 for table in ("loan_application", "task", "timer", "sla_breach", "figures_day", "figures_breach_day")}
        found["open tasks"] = conn.execute(sa.text("SELECT count(*) FROM task WHERE state = 'open'")).scalar_one()
        found["bank 1 open tasks"] = conn.execute(sa.text(
            "SELECT count(*) FROM task WHERE state = 'open' AND institution_id = 1")).scalar_one()
    db.dispose()
    return found


def time_pages(url: str, runs: int) -> dict[str, float]:
    """Median milliseconds per page, each signed in as its user, after one warm-up request."""
    from web import create_app

    engine = build_engine(url, ControlledClock(NOW))
    app = create_app({"TESTING": True, "DATABASE_URL": url}, engine=engine)
    results: dict[str, float] = {}
    clients = {}
    for name, username, path in PAGES:
        if username not in clients:
            client = clients[username] = app.test_client()
            token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
            response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 302, f"cannot sign in as {username}"
        client = clients[username]
        if path is None:  # the page the previous one links to as rel=next
            found = NEXT.search(client.get(PAGES[1][2]).get_data(as_text=True))
            assert found, "the inbox has no next page"
            path = found.group(1).replace("&amp;", "&")
        assert client.get(path).status_code == 200, path
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(path, buffered=not name.endswith("_first_piece"))
            if response.is_streamed and name.endswith("_first_piece"):
                next(iter(response.response))
                timings.append((time.perf_counter() - began) * 1000)
                response.close()
            else:
                response.get_data()
                timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, path
        results[name] = statistics.median(timings)
        print(f"  {name}: {results[name]:.1f} ms ({path})", flush=True)
    engine.session_factory.kw["bind"].dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page (the median is reported)")
    parser.add_argument("--admin", default=ADMIN_URL,
                        help="a PostgreSQL URL; the scratch database is created beside it")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database after the run")
    parser.add_argument("--reuse", action="store_true", help="time the pages of a kept scratch database (no fill)")
    parser.add_argument("--write", action="store_true", help="write the figures to BENCHMARKS.md")
    args = parser.parse_args()
    admin = create_db_engine(args.admin, isolation_level="AUTOCOMMIT")
    url = sa.engine.make_url(args.admin).set(database=SCRATCH).render_as_string(hide_password=False)
    if not args.reuse:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {SCRATCH}")
    try:
        if not args.reuse:
            began = time.perf_counter()
            fill(url, args.applications)
            print(f"filled in {time.perf_counter() - began:.0f} s: {counts(url)}", flush=True)
        results = time_pages(url, args.runs)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
        admin.dispose()
    size = "1m" if args.applications == 1_000_000 else f"{args.applications // 1000}k"
    figures = {f"pages_{size}_{name}_ms_pg": f"{ms:.1f}" for name, ms in results.items()}
    for name, value in figures.items():
        print(f"{name}: {value}")
    if args.write:
        _write(figures, args, size)
    return 0


def _write(figures: dict[str, str], args: argparse.Namespace, size: str) -> None:
    from bench.run import _write_benchmarks

    command = "make bench-scale" + (
        f" SCALE_APPLICATIONS={args.applications}" if args.applications != 1_000_000 else "")
    detail = (f"{args.applications:,} applications on PostgreSQL 15 (127.0.0.1, a scratch database `{SCRATCH}`), "
              f"{INSTITUTIONS} institutions (bank 1 with a fifth), {max(args.applications // 5, 10):,} enterprises, "
              "filled by set-based SQL (bench/scale.py) with task rows, waiting timers and SLA breaches, the kept "
              f"figures backfilled; each page fetched with Flask's test client, signed in, {args.runs} times after a "
              "warm-up (median, ms)")
    targets = [(f"pages_{size}_inbox_ms_pg", "officer inbox at most 100 ms", lambda v: v <= 100),
               (f"pages_{size}_board_ms_pg", "supervisor board at most 150 ms", lambda v: v <= 150)]
    _write_benchmarks(f"Pages at {args.applications:,} applications (PostgreSQL)", figures, command, detail, targets)


if __name__ == "__main__":
    sys.exit(main())
