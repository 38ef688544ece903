"""The timeline folds institutions' reads into one line per institution per Beijing day."""

from __future__ import annotations

from datetime import date

from engine.loans import queries, services
from engine.loans.actors import INSTITUTION_SYSTEM, OFFICER, Actor
from engine.models import LoanApplication
from engine.platform import privacy
from engine.platform.access import create_user
from engine.workflow.working_days import SHANGHAI
from tests.conftest import APPROVAL, cst


def _lines(entries: list[queries.TimelineEntry]) -> list[tuple]:
    def hhmm(instant) -> str:
        return instant.astimezone(SHANGHAI).strftime("%H:%M")

    return [("reads", e.institution, e.day, e.count, hhmm(e.first), hhmm(e.last)) if isinstance(e, queries.ReadsEntry)
            else (e.event.action, e.event.actor) for e in entries]


def test_reads_are_one_line_per_institution_per_beijing_day_between_the_steps(engine, parties, submit, clock):
    with engine.transaction() as session:
        create_user(session, clock.now(), "officer-a", "long-enough-password", OFFICER,
                    institution_id=parties.bank_a_id)
    application_id = submit()  # 2026-09-30 10:00
    bank_b_system = Actor("system:B:k3y", INSTITUTION_SYSTEM, institution_id=parties.bank_b_id)

    def read(actor: Actor, when: str, via: str = "page") -> None:
        clock.set(cst(when))
        with engine.transaction() as session:
            application = session.get(LoanApplication, application_id)
            privacy.record_institution_views(session, clock.now(), actor, [application], via=via)

    read(parties.officer_a, "2026-09-30 10:05")
    clock.set(cst("2026-09-30 10:30"))
    reference = services.accept(engine, parties.officer_a, _reference(engine, application_id)).reference
    read(parties.officer_a, "2026-09-30 11:00")
    clock.set(cst("2026-09-30 11:30"))
    with engine.transaction() as session:  # a disclosure: a line of its own
        privacy.reveal_enterprise_contact(session, clock.now(), parties.officer_a,
                                          session.get(LoanApplication, application_id))
    read(bank_b_system, "2026-09-30 12:00", via="api")
    read(bank_b_system, "2026-09-30 13:00", via="api")
    read(parties.officer_a, "2026-09-30 16:40")
    read(parties.officer_a, "2026-09-30 23:50")  # still the 30th in Beijing (15:50 UTC)
    read(parties.officer_a, "2026-10-01 00:30")  # the 1st in Beijing, though still the 30th in UTC
    read(bank_b_system, "2026-10-01 08:00", via="api")
    clock.set(cst("2026-10-01 09:00"))
    services.approve(engine, parties.officer_a, reference, APPROVAL)
    read(parties.officer_a, "2026-10-01 09:12")
    read(Actor("officer-gone", OFFICER, institution_id=parties.bank_a_id), "2026-10-01 15:00")  # no account left
    read(parties.officer_a, "2026-10-01 16:40")

    with engine.reading() as session:
        application = session.get(LoanApplication, application_id)
        entries = queries.timeline_entries(session, application)
        events = queries.timeline(session, application_id)
        without_reads = queries.timeline_entries(session, application, reads=False)

    submitted, accepted = ("submitted", "ent-user"), ("accepted", "officer-a")
    revealed, approved = ("personal_data_revealed", "officer-a"), ("approved", "officer-a")
    day_1, day_2 = date(2026, 9, 30), date(2026, 10, 1)
    assert _lines(entries) == [
        submitted,
        ("reads", "Bank A", day_1, 4, "10:05", "23:50"),
        accepted,
        revealed,  # a disclosure: its own line
        ("reads", "Bank B", day_1, 2, "12:00", "13:00"),
        ("reads", "Bank A", day_2, 4, "00:30", "16:40"),  # the reader without an account counts for the case's bank
        ("reads", "Bank B", day_2, 1, "08:00", "08:00"),
        approved,
    ]
    assert [(e.action, e.actor) for e in events if e.action != "viewed"] == [submitted, accepted, revealed, approved]
    assert len(events) == 4 + 11  # the lines stand for every read
    assert _lines(without_reads) == [submitted, accepted, revealed, approved]


def _reference(engine, application_id: int) -> str:
    with engine.reading() as session:
        return session.get(LoanApplication, application_id).reference
