"""What the pages say about authorizations and disclosures: statuses, purposes, refusals, in the reader's language.

The engine (engine.platform.authorizations) refuses with a code and parameters; the words are made here.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.platform.authorizations import CaseRecordClosed, RevealRefused
from engine.workflow.errors import EngineError
from web import formatting

AUTHORIZATION_STATUS = {
    "active": _l("Active"), "expired": _l("Expired"), "revoked": _l("Revoked"),
    "closed": _l("Ended with the application"), "missing": _l("None on record"),
}
PURPOSE = {
    "financing_application": _l("This financing application"),
    "handling_application": _l("Handling the application"),
    "case_record": _l("Read-only case record after closure"),
}
# Why an institution's access is limited: the authorization's status, or the closed application's.
REASON = {
    "revoked": _l("the enterprise revoked its authorization"), "expired": _l("the authorization expired"),
    "missing": _l("no authorization is on record"), "withdrawn": _l("the application was withdrawn"),
    "settled": _l("the loan was settled"), "rejected": _l("the application was rejected"),
}
CHANNEL = {"page": _l("web page"), "api": _l("bank's system (API)"), "push": _l("sent to the bank's system")}


def retention() -> timedelta:
    """How long a closed case's record stays readable by its institution (CASE_RECORD_RETENTION_DAYS)."""
    return timedelta(days=current_app.config["CASE_RECORD_RETENTION_DAYS"])


def retention_days() -> int:
    return int(current_app.config["CASE_RECORD_RETENTION_DAYS"])


def reason_text(reason: str | None) -> str:
    return str(REASON.get(reason or "", reason or ""))


def refusal_message(error: EngineError | None) -> str | None:
    """A refused read or reveal, in words (None when nothing was refused)."""
    if error is None:
        return None
    if isinstance(error, CaseRecordClosed):
        return _("This application is closed to your institution: %(reason)s on %(closed)s, and its read-only "
                 "record (contact data masked) could be read until %(until)s (%(days)d days after the closure).",
                 reason=reason_text(error.reason), closed=formatting.beijing(error.closed_at),
                 until=formatting.beijing(error.readable_until), days=retention_days())
    if isinstance(error, RevealRefused):
        return _("The contact data cannot be shown in full: %(reason)s. The refused attempt is on record.",
                 reason=reason_text(error.reason))
    return error.message


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(AUTHORIZATION_STATUS=AUTHORIZATION_STATUS, AUTHORIZATION_PURPOSE=PURPOSE,
                                 DISCLOSURE_CHANNEL=CHANNEL, disclosure_reason=reason_text)
    app.context_processor(lambda: {"retention_days": retention_days()})
