"""What each notification says, as translatable templates; rendered in the reader's language.

Notifications store the topic, the audience and plain parameters; the text is made when it is
read (in-app: the reader's interface language) or sent (e-mail: Chinese, the platform's language).
`gettext` is passed in, so the web layer uses Flask-Babel and the worker the compiled catalog.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
CATALOGS = Path(__file__).resolve().parents[1] / "web" / "translations"

OFFICER = "officer"  # staff of the handling institution: a task reached them
OVERSIGHT = "oversight"  # the institution's admins and the supervisors: a deadline was missed
ENTERPRISE = "enterprise"  # the applicant
SUPERVISION = "supervision"  # the supervisors: a period's report was produced
REGISTRANT = "registrant"  # someone registering, at the e-mail address being verified


def N_(message: str) -> str:  # noqa: N802 - the usual marker for strings translated later
    return message


# (topic, audience) -> (subject, body)
TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    ("application.submitted", OFFICER): (
        N_("New application %(reference)s to accept"),
        N_("Application %(reference)s was submitted to your institution and is waiting to be accepted.")),
    ("application.accepted", OFFICER): (
        N_("Application %(reference)s awaits the credit decision"),
        N_("Application %(reference)s was accepted and is waiting for your institution's credit decision.")),
    ("application.approved", OFFICER): (
        N_("Application %(reference)s awaits disbursement"),
        N_("Application %(reference)s was approved and is waiting for the loan to be disbursed.")),
    ("application.disbursed", OFFICER): (
        N_("Loan %(reference)s awaits settlement"),
        N_("The loan of application %(reference)s was disbursed; record its settlement when it is repaid.")),
    ("application.material_supplied", OFFICER): (
        N_("Application %(reference)s: material supplied"),
        N_("The enterprise answered the request for material on application %(reference)s; the credit decision "
           "is back with your institution.")),
    ("application.material_requested", ENTERPRISE): (
        N_("Your application %(reference)s: material requested"),
        N_("The bank asks for supplementary material on your application %(reference)s. Open your tasks on the "
           "platform to answer before the deadline.")),
    ("authorization.revoked", OFFICER): (
        N_("Authorization revoked: %(reference)s"),
        N_("The enterprise revoked its credit-query authorization for application %(reference)s. Your institution "
           "may no longer query its credit information for it or see its contact data in full; the case record "
           "stays readable with contact data masked.")),
    ("sla.reminder", OFFICER): (
        N_("One working day left: %(reference)s"),
        N_("The %(kind)s deadline of application %(reference)s ends at %(due)s, one working day from now.")),
    ("registration.email_code", REGISTRANT): (
        N_("Your verification code for the financing credit service platform"),
        N_("Your verification code is %(code)s. It is valid for %(minutes)s minutes. If you did not register on "
           "the financing credit service platform, ignore this e-mail; never tell anyone the code.")),
    ("sla.breached", OVERSIGHT): (
        N_("Deadline missed: %(reference)s"),
        N_("The %(kind)s deadline of application %(reference)s ended at %(due)s and was missed.")),
    ("report.produced", SUPERVISION): (
        N_("The %(period_kind)s report for %(period)s is ready"),
        N_("The period %(period)s has closed and its %(period_kind)s report was produced; open the reports page "
           "to read or download it.")),
}
ENTERPRISE_TEXT = (N_("Your application %(reference)s: %(status)s"),
                   N_("The status of your application %(reference)s is now: %(status)s."))
DIGEST_SUBJECT = N_("Deadlines ending within one working day: %(count)s")
DIGEST_INTRO = N_("These deadlines end within one working day:")
KIND = {"accept": N_("acceptance"), "decision": N_("credit decision"), "disbursement": N_("disbursement")}
PERIOD_KIND = {"month": N_("monthly"), "quarter": N_("quarterly"), "half_year": N_("half-yearly"),
               "year": N_("annual")}
STATUS = {"submitted": "Submitted", "accepted": "Accepted", "approved": "Approved", "rejected": "Rejected",
          "disbursed": "Disbursed", "settled": "Settled", "withdrawn": "Withdrawn"}  # msgids of web/labels.py


def _beijing(iso: str | None) -> str:
    if not iso:
        return ""
    return f"{datetime.fromisoformat(iso).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def render(topic: str, params: dict[str, Any], gettext: Callable[[str], str]) -> tuple[str, str]:
    """The subject and body of a notification, in the language of `gettext`."""
    audience = params.get("audience", ENTERPRISE)
    subject, body = TEXTS.get((topic, audience), ENTERPRISE_TEXT)
    values = {
        "reference": params.get("reference", ""),
        "status": gettext(STATUS.get(params.get("status", ""), params.get("status", ""))),
        "kind": gettext(KIND.get(params.get("kind", ""), params.get("kind", ""))),
        "due": _beijing(params.get("due_at")),
        "code": params.get("code", ""), "minutes": params.get("minutes", ""),
        "period": params.get("period", ""),
        "period_kind": gettext(PERIOD_KIND.get(params.get("period_kind", ""), params.get("period_kind", ""))),
    }
    return gettext(subject) % values, gettext(body) % values


def render_digest(items: list[tuple[str, dict[str, Any]]], gettext: Callable[[str], str]) -> tuple[str, str]:
    """One e-mail for several reminders: a subject with their number, a body listing them."""
    lines = [gettext(DIGEST_INTRO), ""]
    lines += ["- " + render(topic, params, gettext)[1] for topic, params in items]
    return gettext(DIGEST_SUBJECT) % {"count": len(items)}, "\n".join(lines)


@cache
def catalog(language: str = "zh") -> Callable[[str], str]:
    """The compiled catalog's gettext for `language` (the message itself where there is none)."""
    return stdlib_gettext.translation("messages", localedir=str(CATALOGS), languages=[language],
                                      fallback=True).gettext
