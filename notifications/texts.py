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
    ("objection.filed", OFFICER): (
        N_("Objection to application %(reference)s"),
        N_("The enterprise objects to the %(field)s your institution reported on application %(reference)s. "
           "Answer it by %(due)s: uphold the record with an explanation, or correct it.")),
    ("objection.answered", ENTERPRISE): (
        N_("Your objection on %(reference)s was answered"),
        N_("The institution answered your objection to the %(field)s of application %(reference)s: %(outcome)s. "
           "Open the application to read the answer.")),
    ("objection.escalated", SUPERVISION): (
        N_("Objection answer late: %(reference)s"),
        N_("The institution did not answer the objection to the %(field)s of application %(reference)s by %(due)s. "
           "A supervision task is waiting in your tasks.")),
    ("objection.supervised", OFFICER): (
        N_("Supervision of an objection: %(reference)s"),
        N_("A supervisor noted your institution's late answer to an objection on application %(reference)s. "
           "Answer the objection at once.")),
    ("financing_problem.filed", OFFICER): (
        N_("Financing problem reported: %(reference)s"),
        N_("An enterprise reported a financing problem about application %(reference)s. Answer it in your tasks.")),
    ("financing_problem.filed", SUPERVISION): (
        N_("Financing problem reported: %(reference)s"),
        N_("An enterprise reported a financing problem (%(reference)s) about no application; the platform answers "
           "it. It is waiting in your tasks.")),
    ("financing_problem.answered", ENTERPRISE): (
        N_("Your financing problem %(reference)s was answered"),
        N_("Your financing problem %(reference)s was answered. Open your tasks to read the answer and say whether "
           "it solved the problem.")),
    ("financing_problem.escalated", SUPERVISION): (
        N_("Financing problem not solved: %(reference)s"),
        N_("The enterprise is not satisfied with the answer to financing problem %(reference)s. A supervision task "
           "is waiting in your tasks.")),
    ("financing_problem.closed", ENTERPRISE): (
        N_("Your financing problem %(reference)s was closed"),
        N_("A supervisor closed your financing problem %(reference)s with a conclusion; see My financing problems.")),
}
ENTERPRISE_TEXT = (N_("Your application %(reference)s: %(status)s"),
                   N_("The status of your application %(reference)s is now: %(status)s."))
DIGEST_SUBJECT = N_("Deadlines ending within one working day: %(count)s")
DIGEST_INTRO = N_("These deadlines end within one working day:")
KIND = {"accept": N_("acceptance"), "decision": N_("credit decision"), "disbursement": N_("disbursement"),
        "objection_answer": N_("objection answer"), "problem_answer": N_("financing problem answer")}
# The reported values an objection names (engine.loans.objections.FIELDS) and its outcomes.
FIELD = {"decision": N_("credit decision"), "approved_amount": N_("credit amount"), "annual_rate": N_("annual rate"),
         "approved_term_months": N_("credit term"), "disbursed_amount": N_("amount disbursed"),
         "disbursed_on": N_("disbursement date"), "settled_on": N_("settlement date")}
OUTCOME = {"uphold": N_("the record is upheld"), "correct": N_("the value is corrected")}
PERIOD_KIND = {"month": N_("monthly"), "quarter": N_("quarterly"), "half_year": N_("half-yearly"),
               "year": N_("annual")}
STATUS = {"submitted": "Submitted", "accepted": "Accepted", "approved": "Approved", "rejected": "Rejected",
          "disbursed": "Disbursed", "settled": "Settled", "withdrawn": "Withdrawn"}  # msgids of web/labels.py


def _beijing(iso: str | None) -> str:
    if not iso:
        return ""
    return f"{datetime.fromisoformat(iso).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def _named(names: dict[str, str], value: Any, gettext: Callable[[str], str]) -> str:
    return gettext(names[value]) if value in names else str(value or "")


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
        "field": _named(FIELD, params.get("field"), gettext),
        "outcome": _named(OUTCOME, params.get("outcome"), gettext),
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
