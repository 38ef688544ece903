"""Enterprises' own data (免费查询): applications, authorizations (revocable), banks' reports, the access log, CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.loans import queries
from engine.loans.actors import ENTERPRISE
from engine.platform import authorizations, own_data
from engine.workflow.errors import ConcurrencyConflict, InvalidTransition, NotFound
from web import disclosure, formatting
from web.auth import current_actor
from web.csv_export import csv_response
from web.labels import ACTION, COMMITMENT, STATUS
from web.pages import engine, roles_required

bp = Blueprint("enterprise_data", __name__, url_prefix="/my/data")
REPORT_ACTION = {"accepted": "accepted", "approved": "approved", "rejected": "rejected", "disbursed": "disbursed",
                 "settled": "settled", "breach": "sla_breached"}


def _field(name: str) -> str:
    return {"representative_id_number": _("ID number"), "contact_phone": _("Contact phone")}.get(name, name)


def report_item(line: own_data.ReportLine) -> str:
    return str(ACTION.get(REPORT_ACTION.get(line.item, ""), line.item))


def report_details(line: own_data.ReportLine) -> str:
    """What the bank reported, in words."""
    v = line.values
    if line.item == "accepted":
        return _("Note: %(note)s", note=v["note"]) if v.get("note") else ""
    if line.item == "approved":
        text = _("%(amount)s yuan at %(rate)s a year for %(term)s months", amount=formatting.amount(v["amount"]),
                 rate=formatting.rate(v["annual_rate"]), term=v["term_months"])
        if v.get("conditions"):
            text += " · " + _("Conditions: %(conditions)s", conditions=v["conditions"])
        return text
    if line.item == "rejected":
        return _("Reason: %(reason)s", reason=v["reason"])
    if line.item == "disbursed":
        return _("%(amount)s yuan on %(date)s, contract %(contract)s, account %(account)s",
                 amount=formatting.amount(v["amount"]), date=formatting.day(v["disbursed_on"]),
                 contract=v["contract_number"] or "—", account=v["account"] or "—")
    if line.item == "settled":
        return _("Settled on %(date)s", date=formatting.day(v["settled_on"])) if v.get("settled_on") else ""
    text = _("%(commitment)s deadline %(due)s missed", commitment=COMMITMENT.get(v["kind"], v["kind"]),
             due=formatting.deadline(v["due_at"]))
    if v.get("resolution") == "acted" and v.get("late_working_days") is not None:
        text += " · " + _("the bank acted %(days)s working days late", days=v["late_working_days"])
    return text


def access_details(line: own_data.AccessLine) -> str:
    """What the institution did with the enterprise's data, in words (never who in person)."""
    channels = ", ".join(str(disclosure.CHANNEL.get(c, c)) for c in line.channels)
    purposes = ", ".join(str(disclosure.PURPOSE.get(p, p)) for p in line.purposes)
    if line.kind == "reads":
        text = _("Read the application record %(count)d times (first %(first)s, last %(last)s)", count=line.count,
                 first=formatting.beijing(line.at, "%H:%M"), last=formatting.beijing(line.last, "%H:%M"))
    elif line.kind == "revealed":
        text = _("Showed the contact data in full: %(fields)s", fields=", ".join(_field(f) for f in line.fields))
    elif line.kind == "sent":
        text = _("The application and its authorization were sent to the institution")
    else:
        wanted = _("showing the contact data in full") if line.wanted == "reveal" else _("reading the record")
        text = _("Refused: %(wanted)s (%(reason)s)", wanted=wanted, reason=disclosure.reason_text(line.reason))
    extra = " · ".join(part for part in (channels, purposes and _("purpose: %(purposes)s", purposes=purposes)) if part)
    return f"{text} · {extra}" if extra else text


@bp.get("")
@roles_required(ENTERPRISE)
def index() -> str:
    """Show everything the platform holds about my enterprise, and who read it."""
    with engine().reading() as session:
        data = own_data.own_data(session, current_actor(), engine().clock.now())
    return render_template("enterprise_data/index.html", data=data, report_item=report_item,
                           report_details=report_details, access_details=access_details)


def _csv_rows(data: own_data.OwnData) -> Iterator[list[Any]]:
    for a in data.applications:
        yield [_("Application"), a.reference, a.institution, str(STATUS.get(a.status, a.status)),
               formatting.beijing(a.submitted_at), "", formatting.amount(a.amount)]
    for auth in data.authorizations:
        yield [_("Authorization"), auth.reference, auth.institution,
               str(disclosure.AUTHORIZATION_STATUS.get(auth.status, auth.status)), formatting.beijing(auth.granted_at),
               "", _("%(scope)s; valid until %(until)s", scope=auth.scope, until=formatting.beijing(auth.expires_at))]
    for report in data.reports:
        yield [_("Reported by the bank"), report.reference, report.institution, report_item(report),
               formatting.beijing(report.at), "", report_details(report)]
    for line in data.access_log:
        yield [_("Access log"), line.reference, line.institution, line.kind, formatting.beijing(line.at),
               line.count, access_details(line)]


@bp.get("/export.csv")
@roles_required(ENTERPRISE)
def export() -> Response:
    """Download my data and its access log as CSV (formula cells neutralised)."""
    with engine().reading() as session:
        data = own_data.own_data(session, current_actor(), engine().clock.now())
    header = [_("Section"), _("Application"), _("Institution"), _("Item"), _("Time (Beijing)"), _("Count"),
              _("Details")]
    return csv_response(header, _csv_rows(data), "my-data.csv")


def _authorization(reference: str) -> authorizations.InstitutionAccess:
    with engine().reading() as session:
        try:
            application = queries.application_for(session, current_actor(), reference)
        except NotFound:
            abort(404)
        access = authorizations.access_for(session, application, engine().clock.now(), disclosure.retention())
    if access.authorization is None:
        abort(404)
    return access


@bp.get("/authorizations/<reference>/revoke")
@roles_required(ENTERPRISE)
def confirm_revoke(reference: str) -> str:
    """Ask before revoking the credit-query authorization of one of my applications."""
    return render_template("enterprise_data/revoke.html", reference=reference, access=_authorization(reference))


@bp.post("/authorizations/<reference>/revoke")
@roles_required(ENTERPRISE)
def revoke(reference: str) -> Response:
    """Revoke the credit-query authorization of one of my applications; the bank is told."""
    try:
        authorizations.revoke(engine(), current_actor(), reference)
    except NotFound:
        abort(404)
    except authorizations.AlreadyRevoked:
        flash(_("This authorization was already revoked."), "error")
        return redirect(url_for("enterprise_data.index"))
    except (ConcurrencyConflict, InvalidTransition):
        flash(_("Someone changed this at the same moment, so nothing was changed. Please reload the page "
                "and try again."), "error")
        return redirect(url_for("enterprise_data.index"))
    flash(_("The authorization of application %(reference)s is revoked; the bank has been told.",
            reference=reference), "success")
    return redirect(url_for("enterprise_data.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    disclosure.init_app(app)
