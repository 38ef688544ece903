"""System admins: the holiday calendar, user accounts, institutions and their loan products."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.loans.queries import platform_summary
from engine.platform import administration
from engine.platform.access import PROCESS_AUTHOR, SYSTEM_ADMIN
from engine.workflow.calendar_service import load_official_schedule
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.working_days import MIN_HOLIDAYS, CalendarError
from web.admin_incidents import bp as incidents_bp
from web.admin_records import bp as records_bp
from web.auth import current_actor
from web.calendar_messages import refusal
from web.labels import translate
from web.pages import engine, roles_required
from web.paging import PER_PAGE, Pager, offset_for, requested_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_SCHEDULE_BYTES = 64 * 1024


def _calendar_page(year: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        calendar = engine().calendars.get(session)
        provisional = platform_summary(session).provisional_deadlines
    return render_template("admin/calendar.html", year=year, rules=calendar.year_rules(year),
                           official=calendar.is_official_year(year), years=sorted(calendar.official_years),
                           provisional=provisional, error=error, min_holidays=MIN_HOLIDAYS), status


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
        return _calendar_page(year, refusal(error), 422)
    flash(_("Loaded %(rules)d days for %(year)d; %(moved)d deadlines of %(instances)d applications were "
            "recomputed.", rules=result.rules, year=result.year, moved=result.timers_moved,
            instances=result.instances_recomputed), "success")
    return redirect(url_for("admin.calendar", year=result.year))


# --- users ---------------------------------------------------------------------------------------

ROLE = {
    ENTERPRISE: _l("Enterprise user"), OFFICER: _l("Bank officer"), INSTITUTION_ADMIN: _l("Institution admin"),
    SUPERVISOR: _l("Supervisor"), PROCESS_AUTHOR: _l("Process author"), SYSTEM_ADMIN: _l("System admin"),
}
# Messages of engine.platform.administration, so that they are extracted and translated (see labels.MESSAGES).
MESSAGES = [
    _l("3 to 100 letters, digits, dots, hyphens, underscores or @."),
    _l("1 to 50 letters, digits, hyphens or underscores."), _l("Between 1 and 200 characters."),
    _l("At most 200 characters."), _l("At least 10 characters."), _l("The two passwords are not the same."),
    _l("Choose a role."), _l("Officers and institution admins belong to an institution."),
    _l("Only officers and institution admins belong to an institution."),
    _l("Enterprise users belong to an enterprise."), _l("Only enterprise users belong to an enterprise."),
    _l("No such institution."), _l("No enterprise has this unified social credit code."),
    _l("This username is taken."), _l("An institution with this code exists already."),
    _l("This institution has a product with this code already."), _l("You cannot deactivate your own account."),
    _l("NUL characters are not allowed."),
]
USER_FIELDS = ("username", "display_name", "role", "password", "password_again", "institution_id", "enterprise")
PASSWORD_FIELDS = ("password", "password_again")
ENTITY_FIELDS = ("code", "name")
ID = "int(max=2147483647)"


def _form(names: tuple[str, ...]) -> dict[str, str]:
    """The named fields that were sent (a missing one is reported as missing, not as empty)."""
    return {name: request.form[name] for name in names if name in request.form}


def _kept(form: dict[str, str]) -> dict[str, str]:
    """What a re-rendered form shows again: everything but passwords."""
    return {name: value for name, value in form.items() if name not in PASSWORD_FIELDS}


@bp.get("/users")
@roles_required(SYSTEM_ADMIN)
def users() -> tuple[str, int]:
    """List the accounts, by role and by text in the username."""
    args = request.args
    errors: dict[str, list[str]] = {}
    page, total = requested_page(), 0
    filters = {"role": args.get("role"), "text": args.get("text")}
    with engine().reading() as session:
        try:
            rows = administration.list_users(session, filters, limit=PER_PAGE, offset=offset_for(page))
            total = administration.count_users(session, filters)
        except ValidationFailed as error:
            errors, rows = error.errors, []
    return render_template("admin/users.html", rows=rows, args=args, errors=errors, ROLE=ROLE,
                           pager=Pager(page, PER_PAGE, total, False)), 422 if errors else 200


def _new_user_page(errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None,
                   status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        institutions = [row.institution for row in administration.list_institutions(session)]
    return render_template("admin/user_new.html", institutions=institutions, errors=errors or {},
                           form=form or {}, ROLE=ROLE), status


@bp.get("/users/new")
@roles_required(SYSTEM_ADMIN)
def new_user() -> tuple[str, int]:
    """Show the form for a new account."""
    return _new_user_page()


@bp.post("/users/new")
@roles_required(SYSTEM_ADMIN)
def create_user() -> Response | tuple[str, int]:
    """Create an account: officers and institution admins with their institution, enterprise users with theirs."""
    form = _form(USER_FIELDS)
    try:
        with engine().transaction() as session:
            user = administration.create_account(session, engine().clock.now(), current_actor().id, form)
            username = user.username
    except ValidationFailed as error:
        return _new_user_page(error.errors, _kept(form), 422)
    flash(_("The account %(username)s was created.", username=username), "success")
    return redirect(url_for("admin.users"))


def _set_user_active(user_id: int, active: bool) -> Response:
    try:
        with engine().transaction() as session:
            changed = administration.set_user_active(session, engine().clock.now(), current_actor().id,
                                                     user_id, active)
            username = administration.get_user(session, user_id).username
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        flash(_("The account could not be changed: %(reason)s", reason=_first(error)), "error")
        return redirect(url_for("admin.users"))
    if changed:
        flash(_("%(username)s can sign in again.", username=username) if active
              else _("%(username)s can no longer sign in.", username=username), "success")
    return redirect(url_for("admin.users"))


@bp.post(f"/users/<{ID}:user_id>/deactivate")
@roles_required(SYSTEM_ADMIN)
def deactivate_user(user_id: int) -> Response:
    """Deactivate an account: no more sign-in, open sessions end, API tokens are revoked."""
    return _set_user_active(user_id, False)


@bp.post(f"/users/<{ID}:user_id>/reactivate")
@roles_required(SYSTEM_ADMIN)
def reactivate_user(user_id: int) -> Response:
    """Let a deactivated account sign in again."""
    return _set_user_active(user_id, True)


def _password_page(user_id: int, errors: dict[str, list[str]] | None = None, status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        try:
            user = administration.get_user(session, user_id)
        except NotFound:
            abort(404)
    return render_template("admin/password.html", user=user, errors=errors or {}, ROLE=ROLE), status


@bp.get(f"/users/<{ID}:user_id>/password")
@roles_required(SYSTEM_ADMIN)
def password_form(user_id: int) -> tuple[str, int]:
    """Show the form for a new password."""
    return _password_page(user_id)


@bp.post(f"/users/<{ID}:user_id>/password")
@roles_required(SYSTEM_ADMIN)
def reset_password(user_id: int) -> Response | tuple[str, int]:
    """Set a new password (entered twice); the account's API tokens are revoked."""
    try:
        with engine().transaction() as session:
            user = administration.reset_password(session, engine().clock.now(), current_actor().id, user_id,
                                                 _form(PASSWORD_FIELDS))
            username = user.username
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        return _password_page(user_id, error.errors, 422)
    flash(_("The password of %(username)s was changed.", username=username), "success")
    return redirect(url_for("admin.users"))


# --- institutions and products -----------------------------------------------------------------


def _institutions_page(errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None,
                       status: int = 200) -> tuple[str, int]:
    page = requested_page()
    with engine().reading() as session:
        rows = administration.list_institutions(session, limit=PER_PAGE, offset=offset_for(page))
        total = administration.count_institutions(session)
    return render_template("admin/institutions.html", rows=rows, errors=errors or {}, form=form or {},
                           pager=Pager(page, PER_PAGE, total, False)), status


@bp.get("/institutions")
@roles_required(SYSTEM_ADMIN)
def institutions() -> tuple[str, int]:
    """List the institutions with their numbers of products and users."""
    return _institutions_page()


@bp.post("/institutions")
@roles_required(SYSTEM_ADMIN)
def create_institution() -> Response | tuple[str, int]:
    """Connect a new institution (code and name); it starts active."""
    form = _form(ENTITY_FIELDS)
    try:
        with engine().transaction() as session:
            institution = administration.create_institution(session, engine().clock.now(), current_actor().id, form)
            institution_id, name = institution.id, institution.name
    except ValidationFailed as error:
        return _institutions_page(error.errors, form, 422)
    flash(_("The institution %(name)s was created.", name=name), "success")
    return redirect(url_for("admin.institution", institution_id=institution_id))


def _institution_page(institution_id: int, errors: dict[str, list[str]] | None = None,
                      form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        try:
            institution = administration.get_institution(session, institution_id)
        except NotFound:
            abort(404)
        products = administration.products_of(session, institution_id)
    return render_template("admin/institution.html", institution=institution, products=products,
                           errors=errors or {}, form=form or {}), status


@bp.get(f"/institutions/<{ID}:institution_id>")
@roles_required(SYSTEM_ADMIN)
def institution(institution_id: int) -> tuple[str, int]:
    """Show an institution (its status is the supervisors' decision) and its loan products."""
    return _institution_page(institution_id)


@bp.post(f"/institutions/<{ID}:institution_id>/products")
@roles_required(SYSTEM_ADMIN)
def add_product(institution_id: int) -> Response | tuple[str, int]:
    """Add a loan product (code unique within the institution, name)."""
    form = _form(ENTITY_FIELDS)
    try:
        with engine().transaction() as session:
            product = administration.add_product(session, engine().clock.now(), current_actor().id,
                                                 institution_id, form)
            name = product.name
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        return _institution_page(institution_id, error.errors, form, 422)
    flash(_("The product %(name)s was added.", name=name), "success")
    return redirect(url_for("admin.institution", institution_id=institution_id))


def _set_product_active(institution_id: int, product_id: int, active: bool) -> Response:
    try:
        with engine().transaction() as session:
            administration.set_product_active(session, engine().clock.now(), current_actor().id,
                                              institution_id, product_id, active)
    except NotFound:
        abort(404)
    flash(_("The product is offered again.") if active else _("The product is no longer offered."), "success")
    return redirect(url_for("admin.institution", institution_id=institution_id))


@bp.post(f"/institutions/<{ID}:institution_id>/products/<{ID}:product_id>/deactivate")
@roles_required(SYSTEM_ADMIN)
def deactivate_product(institution_id: int, product_id: int) -> Response:
    """Stop offering a product on the apply form (running applications go on)."""
    return _set_product_active(institution_id, product_id, False)


@bp.post(f"/institutions/<{ID}:institution_id>/products/<{ID}:product_id>/activate")
@roles_required(SYSTEM_ADMIN)
def activate_product(institution_id: int, product_id: int) -> Response:
    """Offer a product again."""
    return _set_product_active(institution_id, product_id, True)


def _first(error: ValidationFailed) -> str:
    messages = [message for field in error.errors.values() for message in field]
    return translate(messages[0]) if messages else translate(error.message)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(incidents_bp)  # /admin/incidents
    app.register_blueprint(records_bp)  # /admin/enterprises, renames
