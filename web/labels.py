"""Translated labels for values the engine stores in English (statuses, steps, actions, messages)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app, g
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l

from engine.platform.privacy import mask_account
from engine.workflow.working_days import SHANGHAI
from web import formatting

STATUS = {
    "submitted": _l("Submitted"), "accepted": _l("Accepted"), "approved": _l("Approved"),
    "rejected": _l("Rejected"), "disbursed": _l("Disbursed"), "settled": _l("Settled"),
    "withdrawn": _l("Withdrawn"),
}
INSTITUTION_STATUS = {
    "active": _l("Active"), "warned": _l("Warned"), "suspended": _l("Suspended"), "exited": _l("Exited"),
}
# The platform's own commitments (what a deadline measures, a breach's kind); a model names its others
# with the deadline timer's `commitmentName` / `en.commitmentName` (docs/MODELING.md).
COMMITMENT = {
    "accept": _l("Acceptance"), "decision": _l("Credit decision"), "disbursement": _l("Disbursement"),
    "supplement": _l("Supplementary material"), "survey_response": _l("Satisfaction survey reply"),
}


def commitment_kinds() -> list[str]:
    """Every commitment the platform or a deployed model names (for filters)."""
    return list(COMMITMENT) + [kind for kind in _declared_commitments() if kind not in COMMITMENT]


def commitment_label(kind: str | None) -> str:
    """A commitment's name in the reader's language: the platform's, else the model's, else its key."""
    if not kind:
        return ""
    if kind in COMMITMENT:
        return str(COMMITMENT[kind])
    declared = _declared_commitments().get(kind)
    if declared is None:
        return kind
    return declared["en"] if str(get_locale()) == "en" else declared["zh"]


def _declared_commitments() -> dict[str, dict[str, str]]:
    """The deployed models' commitment names, read once per request."""
    if "declared_commitments" not in g:
        engine = current_app.extensions["engine"]
        with engine.reading() as session:
            g.declared_commitments = engine.commitment_names(session)
    names: dict[str, dict[str, str]] = g.declared_commitments
    return names


STEP = {"Accept": _l("Accept"), "Decide": _l("Credit decision"), "Disburse": _l("Disburse"), "Settle": _l("Settle")}
ACTION = {
    "submitted": _l("Application submitted"), "accepted": _l("Accepted by the bank"),
    "approved": _l("Credit approved"), "rejected": _l("Rejected"), "disbursed": _l("Loan disbursed"),
    "settled": _l("Loan settled"), "withdrawn": _l("Withdrawn by the enterprise"),
    "sla_breached": _l("Deadline missed"), "sla_reminder": _l("Deadline reminder sent"),
    "viewed": _l("Viewed by the institution"), "deadlines_recomputed": _l("Deadlines recomputed"),
    "personal_data_revealed": _l("Contact data shown in full to the institution"),
    "contact_updated": _l("Contact data changed by the enterprise"),
    "task_claimed": _l("Task claimed"), "task_unclaimed": _l("Task given back"), "task_assigned": _l("Task assigned"),
    "task_taken_over": _l("Task taken over from a colleague"), "task_completed": _l("Task completed"),
    "process_started": _l("Process started"), "instance_migrated": _l("Case moved to a new process version"),
    "material_requested": _l("Supplementary material requested"),
    "material_supplied": _l("Supplementary material supplied"),
    "survey_answered": _l("Satisfaction survey answered"),
    "authorization_revoked": _l("Credit-query authorization revoked by the enterprise"),
    "disclosure_refused": _l("Access to the enterprise's data refused to the institution"),
    "objection_filed": _l("Objection filed by the enterprise"), "objection_answered": _l("Objection answered"),
    "objection_escalated": _l("Objection answer late, escalated to the supervisors"),
    "objection_supervised": _l("Supervisor's note on the late objection answer"),
    "record_corrected": _l("Reported value corrected"),
    "financing_problem_filed": _l("Financing problem reported"),
    "financing_problem_answered": _l("Financing problem answered"),
    "financing_problem_confirmed": _l("Answer to the financing problem confirmed by the enterprise"),
    "financing_problem_closed": _l("Financing problem closed by a supervisor"),
}
# Messages of the engine's validation, so that they are extracted and translated.
MESSAGES = [
    _l("Must be between 0.01 and 100000000000.00 yuan."), _l("At most two decimal places (yuan and fen)."),
    _l("Missing data for required field."), _l("Not a valid number."), _l("Not a valid integer."),
    _l("Not a valid date."), _l("Shorter than minimum length 1."), _l("Must be between 0.0001 and 36 (%)."),
    _l("Must be greater than or equal to 1 and less than or equal to 360."), _l("A reason is required."),
    _l("Cannot exceed the approved amount."), _l("Cannot be in the future."),
    _l("Cannot be before the previous step."), _l("Cannot be before the disbursement date."),
    _l("No such product at this institution."), _l("No such institution."),
    _l("This institution does not take new applications at present."), _l("At most four decimal places."),
    _l("Field may not be null."), _l("No such colleague at your institution."), _l("This task is no longer open"),
    _l("Only the assignee or an institution admin can give the task back"), _l("Already claimed by a colleague"),
    _l("This application can no longer be withdrawn"),
    _l("Not a valid resident ID number (18 characters, the last one a check digit or X)."),
    _l("A mobile number (11 digits) or a landline with its area code, e.g. 0731-88881234."),
    _l("The application was changed by someone else at the same time; reload and try again"),
]


# Validation messages that carry numbers, as patterns and their translatable templates.
PATTERNS = [
    (re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
     _l("Length must be between %(min)s and %(max)s.")),
    (re.compile(r"Longer than maximum length (?P<max>\d+)\."), _l("Longer than maximum length %(max)s.")),
    (re.compile(r"Shorter than minimum length (?P<min>\d+)\."), _l("Shorter than minimum length %(min)s.")),
    (re.compile(r"Application (?P<reference>\S+) is already (?P<status>\w+)"),
     _l("Application %(reference)s is already %(status)s.")),
    (re.compile(r"Cannot \w+ application (?P<reference>\S+) while it is (?P<status>\w+)"),
     _l("Application %(reference)s cannot take this step while it is %(status)s.")),
    (re.compile(r"The process has no open \w+ task"), _l("The process has no open task for this step.")),
]


def translate(message: str) -> str:
    """The translation of an engine message if there is one, else the message itself."""
    translated = get_translations().gettext(message)
    if translated != message:
        return translated
    for pattern, template in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            values = {name: str(STATUS.get(value, value)) if name == "status" else value
                      for name, value in match.groupdict().items()}
            return str(template) % values
    return message


def init_app(app) -> None:  # noqa: ANN001 - Flask app
    formatting.init_app(app)
    app.jinja_env.globals.update(STATUS=STATUS, STEP=STEP, INSTITUTION_STATUS=INSTITUTION_STATUS, ACTION=ACTION,
                                 translate=translate, commitment_label=commitment_label,
                                 shanghai_tz=SHANGHAI, one_day=timedelta(days=1),
                                 mask_account=mask_account)
