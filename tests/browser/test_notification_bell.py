"""In real Chromium: an officer's bell counts up when an application reaches the institution, and reading clears it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from notifications.delivery import deliver_due
from tests.browser.test_journeys import _apply
from tests.notification_helpers import settings


def test_an_officer_sees_the_bell_count_rise_when_an_application_arrives_and_reads_it(open_page, engine):
    officer = open_page("officer-a")
    officer.goto("/inbox")
    expect(officer.locator("#bell")).to_be_visible()
    expect(officer.locator("#bell-count")).to_have_count(0)
    reference = _apply(open_page("ent-user"))
    deliver_due(engine, settings())  # the delivery worker's run
    officer.reload()
    expect(officer.locator("#bell-count")).to_have_text("1")
    officer.locator("#bell").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Notifications")
    officer.get_by_role("link", name=f"New application {reference} to accept").click()
    expect(officer).to_have_url(re.compile(f"/inbox/{reference}$"))
    expect(officer.locator("#bell-count")).to_have_count(0)
