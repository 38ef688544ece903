"""Enterprises' objections (异议申诉) and financing problems (融资问题反映): the start forms and their lists.

Each form is the start form of its process's latest model, drawn like any task form; what happens
next is the processes' tasks on the generic task pages. The pages' 有异议 markers and the corrections'
history come from the template globals registered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from engine.loans import financing_problems, listing, objections, queries
from engine.loans.actors import ENTERPRISE
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.process_starts import start_process
from engine.workflow.working_days import SHANGHAI
from web import formatting
from web.auth import current_actor
from web.labels import STATUS
from web.pages import engine, roles_required
from web.task_forms import form_context, form_data_from_request, translate_problem

bp = Blueprint("objections", __name__, url_prefix="/my")
FIELD = {"decision": _l("Credit decision"), "approved_amount": _l("Credit amount (yuan)"),
         "annual_rate": _l("Annual rate"), "approved_term_months": _l("Term (months)"),
         "disbursed_amount": _l("Amount disbursed (yuan)"), "disbursed_on": _l("Disbursed on"),
         "settled_on": _l("Settlement date")}
OBJECTION_STATE = {"open": _l("Open"), "upheld": _l("Record upheld"), "corrected": _l("Value corrected")}
PROBLEM_STATE = {"open": _l("Waiting for an answer"), "answered": _l("Answered, waiting for your confirmation"),
                 "resolved": _l("Solved"), "unresolved": _l("Not solved, with the supervisors"),
                 "closed": _l("Closed by a supervisor")}
CATEGORY = {"approval_time": _l("Slow approval"), "financing_cost": _l("High financing cost"),
            "collateral": _l("Collateral or guarantee demands"), "service": _l("Service"),
            "product": _l("Unsuitable product"), "other": _l("Other")}


def _form_page(template: str, key: str, values: Mapping[str, Any] | None, refused: ValidationFailed | None,
               status: int = 200, **context: Any) -> tuple[str, int]:
    form = objections.start_form_of(engine(), key)
    if form is None:
        abort(404)
    problems = (refused.problems or {}) if refused else {}
    keys = {item.key for item in form.inputs}
    today = engine().clock.now().astimezone(SHANGHAI).date()
    view = form_context(form, values, {k: v for k, v in problems.items() if k in keys}, str(get_locale()),
                        today=today)
    general = [translate_problem(code, params) for key, found in problems.items() if key not in keys
               for code, params in found]
    if refused and not refused.problems:
        general.append(_("The form could not be submitted."))
    return render_template(template, form=view, general=general, **context), status


def _application(reference: str) -> Any:
    with engine().reading() as session:
        try:
            return queries.application_for(session, current_actor(), reference)
        except NotFound:
            abort(404)


@bp.get("/applications/<reference>/objection")
@roles_required(ENTERPRISE)
def new_objection(reference: str) -> tuple[str, int]:
    """Show the objection form for one reported value of my application."""
    application = _application(reference)
    field = request.args.get("field", "")
    return _form_page("objections/new.html", objections.OBJECTION_PROCESS_KEY,
                      {"field": field} if field in objections.FIELDS else None, None, application=application)


@bp.post("/applications/<reference>/objection")
@roles_required(ENTERPRISE)
def file_objection(reference: str) -> Response | tuple[str, int]:
    """File an objection: the objection process starts for the application."""
    application = _application(reference)
    form = objections.start_form_of(engine(), objections.OBJECTION_PROCESS_KEY)
    if form is None:
        abort(404)
    try:
        start_process(engine(), current_actor(), objections.OBJECTION_PROCESS_KEY, reference,
                      form_data_from_request(form, request.form))
    except NotFound:
        abort(404)
    except ValidationFailed as refused:
        return _form_page("objections/new.html", objections.OBJECTION_PROCESS_KEY, request.form.to_dict(),
                          refused, 422, application=application)
    flash(_("Your objection was filed; the institution must answer within 20 days."), "success")
    return redirect(url_for("enterprise.show", reference=reference))


def _my_applications() -> list[Any]:
    with engine().reading() as session:
        found = listing.search_applications(session, current_actor(), offset=0, limit=100)
    return [row.application for row in found.items]


@bp.get("/problems/new")
@roles_required(ENTERPRISE)
def new_problem() -> tuple[str, int]:
    """Show the form to report a financing problem."""
    chosen = request.args.get("application", "")
    return _form_page("objections/problem.html", financing_problems.PROBLEM_PROCESS_KEY, None, None,
                      applications=_my_applications(), chosen=chosen)


@bp.post("/problems/new")
@roles_required(ENTERPRISE)
def report_problem() -> Response | tuple[str, int]:
    """Report a financing problem: about one of my applications (its bank answers) or none (the platform)."""
    form = objections.start_form_of(engine(), financing_problems.PROBLEM_PROCESS_KEY)
    if form is None:
        abort(404)
    chosen = request.form.get("application", "")
    key = (_application(chosen).reference if chosen
           else financing_problems.new_problem_reference(engine().clock.now()))
    try:
        start_process(engine(), current_actor(), financing_problems.PROBLEM_PROCESS_KEY, key,
                      form_data_from_request(form, request.form))
    except NotFound:
        abort(404)
    except ValidationFailed as refused:
        return _form_page("objections/problem.html", financing_problems.PROBLEM_PROCESS_KEY,
                          request.form.to_dict(), refused, 422, applications=_my_applications(), chosen=chosen)
    flash(_("Your problem was reported; you will be told when it is answered."), "success")
    return redirect(url_for("objections.index"))


@bp.get("/objections")
@roles_required(ENTERPRISE)
def index() -> str:
    """List my objections and financing problems with their state."""
    enterprise_id = current_actor().enterprise_id or 0
    with engine().reading() as session:
        filed = objections.objections_of_enterprise(session, enterprise_id)
        reported = financing_problems.problems_of_enterprise(session, enterprise_id)
    return render_template("objections/index.html", objections=filed, problems=reported)


# Template globals: markers, history, values in words -----------------------------------------------

def objection_marks(application: Any) -> dict[str, Any]:
    """The application's values under an open objection (read once per request and application)."""
    cache = g.setdefault("objection_marks", {})
    if application.id not in cache:
        with engine().reading() as session:
            cache[application.id] = (objections.open_objections(session, application.id),
                                     objections.corrections_of(session, application.id))
    marks: dict[str, Any] = cache[application.id][0]
    return marks


def corrections_for(application: Any) -> list[Any]:
    objection_marks(application)
    corrections: list[Any] = g.objection_marks[application.id][1]
    return corrections


# What each line of "What the banks reported" (/my/data) says, as the fields an objection names.
REPORTED_FIELDS = {"approved": ("decision", "approved_amount", "annual_rate", "approved_term_months"),
                   "rejected": ("decision",), "disbursed": ("disbursed_amount", "disbursed_on"),
                   "settled": ("settled_on",)}


def my_objections() -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """The signed-in enterprise's open objections by reference and field, and its corrections."""
    if "my_objections" not in g:
        with engine().reading() as session:
            g.my_objections = objections.enterprise_marks(session, current_actor().enterprise_id or 0)
    found: tuple[dict[str, dict[str, Any]], list[Any]] = g.my_objections
    return found


def field_value(field: str, text: str | None) -> str:
    """A reported value (as objections keep it, text) in the reader's words."""
    if text is None:
        return "—"
    kind = objections.FIELDS[field].kind if field in objections.FIELDS else "text"
    if kind == "decision":
        return str(STATUS.get(text, text))
    try:
        if kind == "money":
            return formatting.amount(Decimal(text))
        if kind == "rate":
            return formatting.rate(Decimal(text))
    except InvalidOperation:
        return text
    return text


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        objection_marks=objection_marks, corrections_for=corrections_for, field_value=field_value,
        OBJECTION_FIELD=FIELD, OBJECTION_STATE=OBJECTION_STATE, PROBLEM_STATE=PROBLEM_STATE,
        PROBLEM_CATEGORY=CATEGORY, objectionable=objections.objectionable, my_objections=my_objections,
        REPORTED_FIELDS=REPORTED_FIELDS)
    app.register_blueprint(bp)
