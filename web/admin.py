"""System admins: the holiday calendar (see a year, upload next year's official schedule)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.access import SYSTEM_ADMIN
from engine.calendar_service import load_official_schedule
from engine.loans.queries import platform_summary
from engine.working_days import CalendarError
from web.auth import current_actor
from web.pages import engine, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_SCHEDULE_BYTES = 64 * 1024


def _calendar_page(year: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        calendar = engine().calendars.get(session)
        provisional = platform_summary(session).provisional_deadlines
    return render_template("admin/calendar.html", year=year, rules=calendar.year_rules(year),
                           official=calendar.is_official_year(year), years=sorted(calendar.official_years),
                           provisional=provisional, error=error), status


@bp.get("/calendar")
@roles_required(SYSTEM_ADMIN)
def calendar() -> tuple[str, int]:
    """Show one year's holidays and make-up workdays, and whether its schedule is official."""
    raw = request.args.get("year", "")
    year = int(raw) if raw.isdigit() and 1990 <= int(raw) <= 2100 else engine().clock.now().year
    return _calendar_page(year)


@bp.post("/calendar")
@roles_required(SYSTEM_ADMIN)
def upload_calendar() -> Response | tuple[str, int]:
    """Load a year's official schedule (CSV date,kind,name) and recompute provisional deadlines."""
    upload = request.files.get("schedule")
    year = engine().clock.now().year + 1
    if upload is None or not upload.filename:
        return _calendar_page(year, _("Choose a CSV file."), 422)
    data = upload.read(MAX_SCHEDULE_BYTES + 1)
    if len(data) > MAX_SCHEDULE_BYTES:
        return _calendar_page(year, _("The file is too large for a holiday schedule."), 422)
    try:
        result = load_official_schedule(engine(), data.decode("utf-8-sig"), upload.filename, current_actor().id)
    except UnicodeDecodeError:
        return _calendar_page(year, _("The file is not UTF-8 text."), 422)
    except CalendarError as error:
        return _calendar_page(year, str(error), 422)
    flash(_("Loaded %(rules)d days for %(year)d; %(moved)d deadlines of %(instances)d applications were "
            "recomputed.", rules=result.rules, year=result.year, moved=result.timers_moved,
            instances=result.instances_recomputed), "success")
    return redirect(url_for("admin.calendar", year=result.year))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
