"""Bank officers' inbox: my institution's open tasks, the application page (its tasks worked on /tasks)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.loans import assignment, listing, metrics, queries
from engine.loans.actors import INSTITUTION_ADMIN, OFFICER
from engine.loans.punctuality import step_punctuality
from engine.platform import authorizations, privacy
from engine.workflow import tasks
from engine.workflow.errors import ConcurrencyConflict, Forbidden, NotFound, ValidationFailed
from web import disclosure
from web.auth import current_actor, safe_next
from web.labels import translate
from web.pages import TREND_WEEKS, countdown, engine, roles_required, weekly_chart
from web.paging import PER_PAGE, keyset_pager, requested_cursor, requested_sort
from web.tasks import due_of

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
STAFF = (OFFICER, INSTITUTION_ADMIN)
CLAIM_STATES = {"unclaimed": False, "claimed": True}
DUE_WINDOWS = {"overdue": timedelta(0), "today": timedelta(days=1), "week": timedelta(days=7)}


@bp.get("")
@roles_required(*STAFF)
def index() -> str:
    """List my institution's open tasks a page at a time, or find any of its applications by text."""
    args = request.args
    now = engine().clock.now()
    text = args.get("q", "").strip()[:100]
    after, before, start = requested_cursor()
    with engine().reading() as session:
        if text:
            sort, descending = requested_sort(tuple(listing.SEARCH_SORTS), "submitted", descending=True)
            readable = authorizations.readable_condition(now, disclosure.retention())  # closed to us: not found
            found = listing.find_applications(session, current_actor(), text, sort=sort, descending=descending,
                                              after=after, before=before, limit=PER_PAGE, condition=readable)
            pager = keyset_pager(found, start)
            return render_template("inbox/search.html", found=found.items, pager=pager, args=args, text=text,
                                   sort=sort, descending=descending)
        sort, descending = requested_sort(tuple(listing.INBOX_SORTS), "due")
        window = DUE_WINDOWS.get(args.get("due", ""))
        tasks = listing.inbox_page(session, current_actor().institution_id, step=args.get("step") or None,
                                   due_before=now + window if window is not None else None,
                                   enterprise=args.get("enterprise") or None,
                                   assignee=current_actor().id if args.get("mine") else None,
                                   claimed=CLAIM_STATES.get(args.get("status", "")), sort=sort,
                                   descending=descending, after=after, before=before, limit=PER_PAGE)
        calendar = engine().calendars.get(session)
        team = assignment.colleagues(session, current_actor().institution_id)
    items = [(row, countdown(calendar, now, row.task.due_at, row.task.due_provisional)) for row in tasks.items]
    pager = keyset_pager(tasks, start)
    return render_template("inbox/index.html", items=items, args=args, team=team, pager=pager, sort=sort,
                           descending=descending)


@bp.get("/record")
@roles_required(*STAFF)
def record() -> str:
    """My institution's record as the supervisors see it, and its weekly trend."""
    institution_id = current_actor().institution_id
    now = engine().clock.now()
    with engine().reading() as session:
        own = metrics.institution_record(session, institution_id)
        trend = metrics.weekly_trend(session, now, weeks=TREND_WEEKS, institution_id=institution_id)
    return render_template("inbox/record.html", record=own, trend=trend, chart=weekly_chart(trend))


def _application_page(reference: str, reveal: bool = False) -> tuple[str, int]:
    actor = current_actor()
    now = engine().clock.now()
    with engine().transaction() as session:
        try:
            application = queries.application_for(session, actor, reference)
        except NotFound:
            abort(404)
        # Every read, reveal and refusal is on record, as the authorization allows (来源可溯、去向可查).
        case = privacy.open_case(session, now, actor, application, via="page", reveal=reveal,
                                 retention=disclosure.retention())
        if case.access.may_read:
            # The case's open tasks this officer may work, each done on its task page (/tasks/<id>).
            open_tasks = tasks.list_tasks(engine(), actor, case_id=application.id).items
            events = queries.timeline_entries(session, application)
            punctuality = step_punctuality(session, application)
    if not case.access.may_read:
        return render_template("inbox/case_closed.html", reference=reference,
                               message=disclosure.refusal_message(case.refusal)), 403
    return render_template("inbox/application.html", application=application, events=events,
                           tasks=[(view, due_of(view)) for view in open_tasks], language=str(get_locale()),
                           punctuality=punctuality, contact=case.contact, access=case.access,
                           refusal=disclosure.refusal_message(case.refusal)), 403 if case.refusal else 200


@bp.get("/<reference>")
@roles_required(*STAFF)
def show(reference: str) -> tuple[str, int]:
    """Show an application of my institution with its timeline and its open tasks."""
    return _application_page(reference)


@bp.post("/<reference>/contact")
@roles_required(*STAFF)
def reveal_contact(reference: str) -> tuple[str, int]:
    """Show the applicant's contact data in full; the disclosure is recorded."""
    return _application_page(reference, reveal=True)


@bp.post("/tasks/<int(max=2147483647):task_id>/<action>")
@roles_required(*STAFF)
def task_assignment(task_id: int, action: str) -> Response:
    """Claim a task, give it back, or assign it to a colleague."""
    try:
        if action == "claim":
            tasks.claim(engine(), current_actor(), task_id)
        elif action == "unclaim":
            tasks.unclaim(engine(), current_actor(), task_id)
        elif action == "assign":
            tasks.assign(engine(), current_actor(), task_id, request.form.get("assignee", ""))
        else:
            abort(404)
    except NotFound:
        abort(404)
    except (ConcurrencyConflict, Forbidden, ValidationFailed) as error:
        # A refused assignment says which field was wrong ("no such colleague"), not just "invalid".
        reason = next(iter(error.errors.values()))[0] if isinstance(error, ValidationFailed) else error.message
        flash(_("The task could not be changed: %(reason)s", reason=translate(reason)), "error")
    return redirect(safe_next(request.form.get("next")) or url_for("inbox.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
