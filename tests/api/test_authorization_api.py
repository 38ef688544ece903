"""The banks' API under the enterprise's authorization: the contact data in full only while it is in force,
a closed case's record readable for the retention window, then 403 case_record_closed; every read, reveal
and refusal on record with its purpose."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, Enterprise
from engine.models.loans import DisclosureRecord
from engine.platform import authorizations
from tests.conftest import application_input, rows

PHONE, ID_NUMBER = "13912345678", "430102198001011234"


@pytest.fixture
def reference(callers, parties, clock, engine):
    with engine.transaction() as session:
        enterprise = session.get(Enterprise, parties.enterprise.enterprise_id)
        enterprise.legal_representative, enterprise.representative_id_number = "王建国", ID_NUMBER
        enterprise.contact_phone = PHONE
    response = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now()))
    assert response.status_code == 201, response.json
    return response.json["reference"]


def _ledger(engine):
    return rows(engine, sa.select(DisclosureRecord.action, DisclosureRecord.via, DisclosureRecord.purpose)
                .order_by(DisclosureRecord.id))


def _refusals(engine):
    return [detail for (detail,) in rows(engine, sa.select(AuditEvent.detail).where(
        AuditEvent.action == "disclosure_refused").order_by(AuditEvent.id))]


def test_the_handling_bank_reads_the_contact_data_in_full_on_record(callers, reference, engine):
    response = callers.bank_a.get(f"/api/v1/applications/{reference}/contact")
    assert response.status_code == 200
    assert response.json == {"name": "Ent", "credit_code": "91430100MA4L000001", "legal_representative": "王建国",
                             "representative_id_number": ID_NUMBER, "contact_phone": PHONE}
    assert _ledger(engine) == [("read", "api", "handling_application"), ("reveal", "api", "handling_application")]
    revealed = rows(engine, sa.select(AuditEvent.actor, AuditEvent.detail).where(
        AuditEvent.action == "personal_data_revealed"))
    assert revealed[0][0].startswith("system:A:") and revealed[0][1]["via"] == "api"


@pytest.mark.parametrize("caller", ["bank_b", "enterprise", "other_enterprise", "supervisor"])
def test_nobody_else_reads_the_contact_data(callers, reference, engine, caller):
    response = getattr(callers, caller).get(f"/api/v1/applications/{reference}/contact")
    assert response.status_code == 404 and PHONE not in response.get_data(as_text=True)
    assert _ledger(engine) == []


def test_after_revocation_the_contact_data_is_refused_and_the_refusal_recorded(callers, reference, engine, parties):
    authorizations.revoke(engine, parties.enterprise, reference)
    response = callers.bank_a.get(f"/api/v1/applications/{reference}/contact")
    assert response.status_code == 403
    assert (response.json["code"], response.json["reason"]) == ("reveal_refused", "revoked")
    assert PHONE not in response.get_data(as_text=True)
    assert _refusals(engine) == [{"wanted": "reveal", "via": "api", "reason": "revoked"}]
    assert _ledger(engine)[-1] == ("refused_reveal", "api", "revoked")
    # the case record itself (no contact data) stays readable while the application is open
    assert callers.bank_a.get(f"/api/v1/applications/{reference}").status_code == 200


@pytest.mark.parametrize("how", ["withdrawn", "expired"])
def test_withdrawn_or_expired_refuses_the_contact_data(callers, reference, engine, parties, clock, how):
    if how == "withdrawn":
        services.withdraw(engine, parties.enterprise, reference, {})
    else:
        clock.advance(days=91)
    response = callers.bank_a.get(f"/api/v1/applications/{reference}/contact")
    assert (response.status_code, response.json["code"], response.json["reason"]) == (403, "reveal_refused", how)


def test_a_closed_case_is_read_for_the_retention_window_then_refused(callers, reference, engine, parties, clock):
    services.withdraw(engine, parties.enterprise, reference, {})
    clock.advance(days=179)
    assert callers.bank_a.get(f"/api/v1/applications/{reference}").status_code == 200
    assert [item["reference"] for item in callers.bank_a.get("/api/v1/applications").json["items"]] == [reference]
    assert _ledger(engine) == [("read", "api", "case_record"), ("read", "api", "case_record")]

    clock.advance(days=2)
    response = callers.bank_a.get(f"/api/v1/applications/{reference}")
    assert response.status_code == 403 and response.mimetype == "application/json"
    assert (response.json["code"], response.json["reason"]) == ("case_record_closed", "withdrawn")
    assert response.json["readable_until"] == "2027-03-29T02:00:00+00:00"
    assert callers.bank_a.get("/api/v1/applications").json["items"] == []  # not listed either
    assert _refusals(engine) == [{"wanted": "read", "via": "api", "reason": "withdrawn"}]


def test_a_banks_list_puts_every_application_read_on_record_in_one_statement_per_table(callers, parties, clock,
                                                                                       engine):
    """A bank's system polls its list (every 10 s): each listed application is on record as read, for its
    purpose, but the page's rows are written together, not two statements per application."""
    references = []
    for _ in range(4):
        response = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now()))
        references.append(response.json["reference"])
    inserts: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement.split("(", 1)[0].split()[-1])
    bind = engine.session_factory.kw["bind"]
    sa.event.listen(bind, "before_cursor_execute", count)
    try:
        response = callers.bank_a.get("/api/v1/applications")
    finally:
        sa.event.remove(bind, "before_cursor_execute", count)
    assert response.status_code == 200 and len(response.json["items"]) == 4
    assert sorted(inserts) == ["audit_event", "disclosure_record"]
    assert _ledger(engine) == [("read", "api", "handling_application")] * 4
    viewed = rows(engine, sa.select(AuditEvent.application_id).where(AuditEvent.action == "viewed"))
    assert len(viewed) == 4
