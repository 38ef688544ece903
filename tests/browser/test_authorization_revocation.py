"""In Chromium: the enterprise reads the risk notice and authorizes, later revokes the authorization on its
data page; the officer's page, opened before, then refuses the reveal and shows the authorization revoked."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.models import Enterprise

PHONE, MASKED = "13912345678", "139****5678"


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def test_the_enterprise_revokes_and_the_officers_reveal_is_refused(open_page, engine, parties):
    with engine.transaction() as session:
        session.get(Enterprise, parties.enterprise.enterprise_id).contact_phone = PHONE
    enterprise = open_page("ent-user")
    enterprise.goto("/my/applications/new")
    notice = enterprise.get_by_role("region", name="Risk notice")
    expect(notice).to_contain_text("For what: assessing and handling this financing application")
    expect(notice).to_contain_text("You can revoke it at any time")
    enterprise.get_by_label("Institution and product").select_option(label="Product A")
    enterprise.get_by_label("Amount (yuan)").fill("500000.00")
    enterprise.get_by_label("Purpose").fill("Working capital")
    enterprise.get_by_role("button", name="Submit the application").click()  # not ticked: refused, input kept
    expect(enterprise.get_by_role("alert").first).to_contain_text("Please read the risk notice above and tick the box.")
    expect(enterprise.get_by_label("Purpose")).to_have_value("Working capital")
    enterprise.get_by_label("I have read the risk notice and I authorize the query").check()
    enterprise.get_by_role("button", name="Submit the application").click()
    expect(_heading(enterprise)).to_have_text(re.compile(r"^\S+ — Submitted$"))
    reference = _heading(enterprise).inner_text().split(" — ")[0]
    expect(enterprise.locator("#authorization")).to_contain_text("Active")

    officer = open_page("officer-a")
    officer.goto(f"/inbox/{reference}")
    expect(officer.locator("#authorization")).to_contain_text("Active")
    reveal = officer.get_by_role("button", name="Show the contact data in full (this is recorded)")
    expect(reveal).to_be_visible()

    enterprise.get_by_role("link", name="My data", exact=True).click()
    expect(_heading(enterprise)).to_have_text("My data")
    enterprise.get_by_role("link", name="Revoke this authorization").click()
    expect(_heading(enterprise)).to_have_text(f"Revoke the authorization of {reference}?")
    enterprise.get_by_role("button", name="Revoke the authorization").click()
    expect(enterprise.get_by_text(f"The authorization of application {reference} is revoked")).to_be_visible()
    expect(enterprise.locator("#authorizations")).to_contain_text("Revoked")

    reveal.click()  # the officer's page was loaded before the revocation
    expect(officer.get_by_role("alert")).to_contain_text(
        "The contact data cannot be shown in full: the enterprise revoked its authorization")
    expect(officer.locator("#authorization")).to_contain_text("Revoked")
    expect(officer.get_by_text(MASKED)).to_be_visible()
    expect(officer.get_by_text(PHONE)).to_have_count(0)
    expect(officer.get_by_role("button", name="Show the contact data in full (this is recorded)")).to_have_count(0)

    enterprise.reload()
    log = enterprise.locator("#access-log")
    expect(log).to_contain_text("Refused: showing the contact data in full (the enterprise revoked its authorization)")
    expect(log).to_contain_text("Bank A")
    expect(log).not_to_contain_text("officer-a")
