"""Every user task of every process on one page: the list, the task with its model's form, claim, complete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, time
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.platform.access import SYSTEM_ADMIN
from engine.workflow import tasks
from engine.workflow.errors import ConcurrencyConflict, EngineError, Forbidden, ValidationFailed
from engine.workflow.working_days import SHANGHAI
from web import formatting
from web.auth import current_actor
from web.labels import translate
from web.pages import countdown_of, engine, roles_required
from web.paging import PER_PAGE, Pager, offset_for, requested_page
from web.task_forms import form_context, form_data_from_request, translate_problem
from web.views import engine_error_page

bp = Blueprint("task_pages", __name__, url_prefix="/tasks")
ID = "int(max=2147483647)"
TASK_ROLES = (OFFICER, INSTITUTION_ADMIN, ENTERPRISE, SUPERVISOR, SYSTEM_ADMIN)
# Each role's own page of a case (system admins have none: the reference is shown as text).
CASE_PAGES = {OFFICER: "inbox.show", INSTITUTION_ADMIN: "inbox.show", ENTERPRISE: "enterprise.show",
              SUPERVISOR: "supervision.application"}


@dataclass(frozen=True)
class Due:
    """A task's deadline for display: when, what is left (or how late), a colour class."""

    when: str
    left: str
    level: str  # breached | red | amber | green | none


def due_of(view: tasks.TaskView) -> Due | None:
    due = view.row.due_at
    if due is None:
        return None
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    # A working-day deadline is 00:00 of the next day, read as the law does ("… 24:00").
    midnight = due.astimezone(SHANGHAI).time() == time(0)
    when = formatting.deadline(due) if midnight else formatting.beijing(due)
    if view.working_days_left is None:  # no longer open
        return Due(when, "", "none")
    left = countdown_of(engine().clock.now(), due, view.working_days_left)
    return Due(when, left.text, left.level)


def case_url(reference: str) -> str | None:
    """The signed-in user's own page of a case, if their role has one."""
    endpoint = CASE_PAGES.get(current_user.role)
    return url_for(endpoint, reference=reference) if endpoint else None


@bp.get("")
@roles_required(*TASK_ROLES)
def index() -> str:
    """List the open tasks I may act on, soonest deadline first, a page at a time."""
    page, mine = requested_page(), request.args.get("mine") == "1"
    found = tasks.list_tasks(engine(), current_actor(), mine=mine, limit=PER_PAGE, offset=offset_for(page))
    return render_template("tasks/index.html", language=str(get_locale()),
                           rows=[(view, due_of(view)) for view in found.items], mine=mine,
                           pager=Pager(page, PER_PAGE, found.total, False),
                           case_url=case_url)


def _task_page(task_id: int, values: Mapping[str, Any] | None = None, refused: ValidationFailed | None = None,
               status: int = 200, conflict: str | None = None) -> tuple[str, int]:
    """The task with its form (`values` kept and `refused`'s problems shown after a refusal)."""
    view = tasks.get_task(engine(), current_actor(), task_id)
    problems = (refused.problems or {}) if refused else {}
    messages = refused.errors if refused and not refused.problems else {}  # a refusal worded in English only
    keys = {item.key for item in view.form.inputs} if view.form else set()
    context = None
    if view.form is not None and view.row.state == "open":
        today = engine().clock.now().astimezone(SHANGHAI).date()
        context = form_context(view.form, values, {k: v for k, v in problems.items() if k in keys},
                               str(get_locale()), today=today, shown=view.shown)
        for field in context.fields:
            field.errors += [translate(text) for text in messages.get(field.key or "", [])]
    general = [translate_problem(code, params) for key, found in problems.items() if key not in keys
               for code, params in found]
    general += [translate(text) for key, found in messages.items() if key not in keys for text in found]
    return render_template("tasks/task.html", language=str(get_locale()),
                           view=view, due=due_of(view), form=context, general=general,
                           conflict=conflict, me=current_actor().id,
                           case_url=case_url), status


@bp.get(f"/<{ID}:task_id>")
@roles_required(*TASK_ROLES)
def show(task_id: int) -> tuple[str, int]:
    """Show a task: its process, case, deadline, who holds it, and its form."""
    return _page_or_error(task_id)


@bp.post(f"/<{ID}:task_id>")
@roles_required(*TASK_ROLES)
def complete(task_id: int) -> Response | tuple[str, int]:
    """Complete a task with the data of its form."""
    actor, posted = current_actor(), request.form
    try:
        view = tasks.get_task(engine(), actor, task_id)
        tasks.complete(engine(), actor, task_id, form_data_from_request(view.form, posted) if view.form else {})
    except ValidationFailed as refused:
        return _page_or_error(task_id, posted.to_dict(), refused=refused, status=422)
    except ConcurrencyConflict as error:
        if "assignee" not in error.context:  # the task closed or the case moved meanwhile
            return engine_error_page(error)
        return _page_or_error(task_id, posted.to_dict(), status=409, conflict=str(error.context["assignee"]))
    except EngineError as error:
        return engine_error_page(error)
    flash(_("Task “%(name)s” completed.", name=view.name_in(str(get_locale()))), "success")
    return redirect(case_url(view.business_key) or url_for("task_pages.index"))


def _page_or_error(task_id: int, values: Mapping[str, Any] | None = None, **kwargs: Any) -> tuple[str, int]:
    try:
        return _task_page(task_id, values, **kwargs)
    except EngineError as error:
        return engine_error_page(error)


@bp.post(f"/<{ID}:task_id>/claim")
@roles_required(*TASK_ROLES)
def claim(task_id: int) -> Response | tuple[str, int]:
    """Claim a task, or take it over from a colleague when asked (the take-over is recorded)."""
    take_over = request.form.get("take_over") == "1"
    try:
        tasks.claim(engine(), current_actor(), task_id, take_over=take_over)
    except (ConcurrencyConflict, Forbidden) as error:
        holder = error.context.get("assignee")
        flash(_("Already claimed by %(holder)s.", holder=formatting.actor_label(str(holder))) if holder
              else _("The task could not be changed: %(reason)s", reason=translate(error.message)), "error")
        return redirect(url_for("task_pages.show", task_id=task_id))
    except EngineError as error:
        return engine_error_page(error)
    flash(_("You took the task over; this is recorded.") if take_over else _("The task is yours now."), "success")
    return redirect(url_for("task_pages.show", task_id=task_id))


@bp.post(f"/<{ID}:task_id>/unclaim")
@roles_required(*TASK_ROLES)
def unclaim(task_id: int) -> Response | tuple[str, int]:
    """Give a task back to the pool."""
    try:
        tasks.unclaim(engine(), current_actor(), task_id)
    except (ConcurrencyConflict, Forbidden) as error:
        flash(_("The task could not be changed: %(reason)s", reason=translate(error.message)), "error")
        return redirect(url_for("task_pages.show", task_id=task_id))
    except EngineError as error:
        return engine_error_page(error)
    flash(_("The task is back in the pool."), "success")
    return redirect(url_for("task_pages.show", task_id=task_id))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
