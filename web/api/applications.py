"""Applications: enterprises submit and withdraw; institutions take each step."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from engine.loans import queries, services
from engine.loans.actors import APPLICATION_NOT_FOUND
from engine.models import LoanApplication
from engine.platform import authorizations, privacy
from engine.workflow.errors import NotFound
from web.api.auth import current_actor
from web.api.idempotent import idempotent
from web.api.schemas import (
    AcceptIn,
    ApplicationOut,
    ContactOut,
    DecisionIn,
    DisbursementIn,
    ErrorOut,
    ListQuery,
    PageOut,
    SettlementIn,
    SubmitIn,
    WithdrawIn,
    drop_none,
)

PREFIX = "/applications"
blp = Blueprint("applications", __name__, description="Loan applications and their steps")
ERRORS = (401, 403, 404, 409, 422)


def _engine():
    return current_app.extensions["engine"]


def _unit_of_work(record_view: bool) -> Any:
    """A read by an institution is a disclosure, put on record, so it writes; any other read only reads."""
    if record_view and privacy.is_disclosure(current_actor()):
        return _engine().transaction()
    return _engine().reading()


def _retention() -> timedelta:
    return timedelta(days=current_app.config["CASE_RECORD_RETENTION_DAYS"])


def _view(reference: str, record_view: bool = False, reveal: bool = False) -> Any:
    """The application as the current actor may see it, with its open tasks; an institution's read (and
    reveal) as its authorization allows, on record with its purpose, a refusal too (then raised)."""
    if record_view:
        with _unit_of_work(record_view) as session:
            application = queries.application_for(session, current_actor(), reference)
            case = privacy.open_case(session, _engine().clock.now(), current_actor(), application, via="api",
                                     retention=_retention(), reveal=reveal)
            application.open_tasks = queries.open_tasks_of(session, [application.id], current_actor()).get(
                application.id, [])
        if case.refusal is not None:  # raised after the commit, so that the refused attempt stays on record
            raise case.refusal
        return case.contact if reveal else application
    with _engine().reading() as session:
        application = queries.application_for(session, current_actor(), reference)
        application.open_tasks = queries.open_tasks_of(session, [application.id], current_actor()).get(
            application.id, [])
        return application


def _answer(application: LoanApplication) -> LoanApplication:
    """The application a step of this request has just changed (no second read of it), with the open
    tasks the current actor acts on."""
    with _engine().reading() as session:
        application.open_tasks = queries.open_tasks_of(session, [application.id], current_actor()).get(
            application.id, [])
    return application


def _documented_errors(view):  # noqa: ANN001, ANN202 - decorator over flask-smorest views
    for code in ERRORS:
        view = blp.alt_response(code, schema=ErrorOut, description="Error")(view)
    return view


def _one_answer_for_missing(view: Callable[..., Any]) -> Callable[..., Any]:
    """Whichever layer found nothing (query, service, tenancy check), answer with the same words: an
    application of another party and one that does not exist must be told apart by nothing."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound:
            raise NotFound(APPLICATION_NOT_FOUND) from None

    return wrapper


@blp.route("")
class Applications(MethodView):
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, PageOut)
    @_documented_errors
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the applications I may see (mine, my institution's, or all for supervisors)."""
        now, disclosing = _engine().clock.now(), privacy.is_disclosure(current_actor())
        with _unit_of_work(record_view=True) as session:
            page = queries.list_applications(
                session, current_actor(), status=args.get("status"), step=args.get("step"),
                due_before=args.get("due_before"), updated_since=args.get("updated_since"),
                after_id=args.get("cursor"), limit=args["limit"],
                # an institution lists only the cases it may still read (closed: within the retention window)
                condition=authorizations.readable_condition(now, _retention()) if disclosing else None)
            tasks = queries.open_tasks_of(session, [a.id for a in page.items], current_actor())
            for application in page.items:
                application.open_tasks = tasks.get(application.id, [])
            access = authorizations.accesses(session, page.items, now, _retention()) if disclosing else None
            privacy.record_institution_views(session, now, current_actor(), page.items, "api", access)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @idempotent
    @blp.arguments(SubmitIn)
    @blp.response(201, ApplicationOut)
    @_documented_errors
    def post(self, args: dict[str, Any]) -> Any:
        """Submit an application with the enterprise's credit-query authorization."""
        return _answer(services.submit(_engine(), current_actor(), args))


@blp.route("/<reference>")
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def get_application(reference: str) -> Any:
    """Read one application (a read by an institution is recorded in the audit log)."""
    return _view(reference, record_view=True)


@blp.route("/<reference>/contact")
@blp.response(200, ContactOut)
@_documented_errors
@_one_answer_for_missing
def get_contact(reference: str) -> Any:
    """Read the applicant's contact data in full (the handling institution only, while the enterprise's
    authorization is in force; recorded with its purpose; otherwise 403 reveal_refused or case_record_closed)."""
    if not privacy.is_disclosure(current_actor()):
        raise NotFound(APPLICATION_NOT_FOUND)
    return _view(reference, record_view=True, reveal=True)


@blp.route("/<reference>/accept", methods=["POST"])
@idempotent
@blp.arguments(AcceptIn)
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def accept(args: dict[str, Any], reference: str) -> Any:
    """Accept (受理) the application."""
    return _answer(services.accept(_engine(), current_actor(), reference, args))


@blp.route("/<reference>/decision", methods=["POST"])
@idempotent
@blp.arguments(DecisionIn)
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def decide(args: dict[str, Any], reference: str) -> Any:
    """Report the credit decision: approve (amount, rate, term; optional loan facts) or reject with a reason.

    The optional loan facts feed the platform's reports: `loan_type` (credit, guaranteed, mortgage,
    pledge), `first_loan` (true/false) and `term_class` (short, medium_long; when left out it follows
    the approved term: over 12 months is medium_long).
    """
    decision = args.pop("decision")
    if decision == "approve":
        args.pop("reason", None)
        return _answer(services.approve(_engine(), current_actor(), reference, drop_none(args)))
    return _answer(services.reject(_engine(), current_actor(), reference, {"reason": args.get("reason", "")}))


@blp.route("/<reference>/disbursement", methods=["POST"])
@idempotent
@blp.arguments(DisbursementIn)
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def disburse(args: dict[str, Any], reference: str) -> Any:
    """Report the disbursement (放款), optionally with the loan facts.

    `loan_type`, `first_loan` and `term_class` as at the decision; what is left out stays as the
    decision reported it.
    """
    args["disbursed_on"] = args["disbursed_on"].isoformat()
    return _answer(services.disburse(_engine(), current_actor(), reference, args))


@blp.route("/<reference>/settlement", methods=["POST"])
@idempotent
@blp.arguments(SettlementIn)
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def settle(args: dict[str, Any], reference: str) -> Any:
    """Report that the loan is settled (结清)."""
    settled = {"settled_on": args["settled_on"].isoformat()}
    return _answer(services.settle(_engine(), current_actor(), reference, settled))


@blp.route("/<reference>/withdraw", methods=["POST"])
@idempotent
@blp.arguments(WithdrawIn)
@blp.response(200, ApplicationOut)
@_documented_errors
@_one_answer_for_missing
def withdraw(args: dict[str, Any], reference: str) -> Any:
    """Withdraw my application (before the decision)."""
    return _answer(services.withdraw(_engine(), current_actor(), reference, args))
