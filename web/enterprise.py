"""Enterprises' pages: apply, follow my applications, withdraw while allowed."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.loans import listing, queries, services
from engine.loans.actors import ENTERPRISE
from engine.loans.punctuality import step_punctuality
from engine.platform import authorizations, enterprise_profile
from engine.workflow import tasks
from engine.workflow.errors import ConcurrencyConflict, InvalidTransition, NotFound, ValidationFailed
from web.auth import current_actor
from web.labels import translate
from web.pages import engine, roles_required
from web.paging import PER_PAGE, Pager, offset_for, requested_page
from web.tasks import due_of

bp = Blueprint("enterprise", __name__, url_prefix="/my/applications")
AUTHORIZATION_DAYS = authorizations.VALIDITY_DAYS


@bp.get("")
@roles_required(ENTERPRISE)
def index() -> str:
    """List my applications, newest first, a page at a time."""
    page = requested_page()
    with engine().reading() as session:
        found = listing.search_applications(session, current_actor(), offset=offset_for(page), limit=PER_PAGE)
    return render_template("enterprise/index.html", applications=[row.application for row in found.items],
                           pager=Pager(page, PER_PAGE, found.total, found.capped))


def _apply_form(errors: dict[str, list[str]] | None = None, form: dict | None = None,
                status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        offer = queries.offer(session)
    return render_template("enterprise/apply.html", offer=offer, errors=errors or {}, form=form or {},
                           authorization_days=AUTHORIZATION_DAYS), status


@bp.get("/new")
@roles_required(ENTERPRISE)
def new() -> tuple[str, int]:
    """Show the application form."""
    return _apply_form()


@bp.post("/new")
@roles_required(ENTERPRISE)
def create() -> Response | tuple[str, int]:
    """Submit an application with the explicit credit-query authorization."""
    form = request.form
    if form.get("authorize") != "yes":  # the risk notice read and the authorization given: one tick
        return _apply_form({"authorize": [_("Please read the risk notice above and tick the box."),
                                          _("The bank may only query your credit report with your authorization.")]},
                           form.to_dict(), 422)
    now = engine().clock.now()
    product = form.get("product", "")
    institution_id, _sep, product_id = product.partition(":")
    data = {
        "institution_id": int(institution_id) if institution_id.isdigit() else institution_id,
        "product_id": int(product_id) if product_id.isdigit() else product_id,
        "amount": form.get("amount", ""),
        "term_months": int(form["term_months"]) if form.get("term_months", "").isdigit() else form.get("term_months"),
        "purpose": form.get("purpose", ""),
        "authorization": {
            "scope": _("Enterprise credit report, for this application only"),
            "granted_by": current_actor().id, "granted_at": now.isoformat(),
            "expires_at": (now + timedelta(days=AUTHORIZATION_DAYS)).isoformat(),
            "risk_notice_version": authorizations.RISK_NOTICE_VERSION,
        },
    }
    try:
        application = services.submit(engine(), current_actor(), data)
    except ValidationFailed as error:
        errors = {("product" if k in ("institution_id", "product_id") else k): v for k, v in error.errors.items()}
        return _apply_form(errors, form.to_dict(), 422)
    flash(_("Your application %(reference)s was submitted.", reference=application.reference), "success")
    return redirect(url_for("enterprise.show", reference=application.reference))


@bp.get("/<reference>")
@roles_required(ENTERPRISE)
def show(reference: str) -> str:
    """Show my application: its status, deadlines, the bank's decision and the timeline."""
    with engine().reading() as session:
        try:
            application = queries.application_for(session, current_actor(), reference)
        except NotFound:
            abort(404)
        events = queries.timeline_entries(session, application, reads=False)  # institutions' reads: not shown
        punctuality = step_punctuality(session, application)
        access = authorizations.access_for(session, application, engine().clock.now())  # its authorization
    # What the enterprise has to do on this application (e.g. supply material), each on its task page.
    open_tasks = tasks.list_tasks(engine(), current_actor(), case_id=application.id).items
    return render_template("enterprise/application.html", application=application, events=events,
                           punctuality=punctuality, tasks=[(view, due_of(view)) for view in open_tasks],
                           language=str(get_locale()), access=access)


@bp.post("/<reference>/withdraw")
@roles_required(ENTERPRISE)
def withdraw(reference: str) -> Response:
    """Withdraw my application (possible until the bank's decision)."""
    try:
        services.withdraw(engine(), current_actor(), reference, {"reason": request.form.get("reason") or None})
    except NotFound:
        abort(404)
    except (ConcurrencyConflict, InvalidTransition, ValidationFailed) as error:
        flash(_("The application could not be withdrawn: %(reason)s", reason=translate(error.message)), "error")
        return redirect(url_for("enterprise.show", reference=reference))
    flash(_("Your application was withdrawn."), "success")
    return redirect(url_for("enterprise.show", reference=reference))


profile_bp = Blueprint("profile", __name__, url_prefix="/my/profile")


def _profile_page(form: dict | None = None, errors: dict[str, list[str]] | None = None,
                  status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        enterprise = enterprise_profile.contact_of(session, current_actor())
    if form is None:
        form = {name: getattr(enterprise, name) or "" for name in enterprise_profile.FIELDS}
    return render_template("enterprise/profile.html", enterprise=enterprise, form=form,
                           errors=errors or {}), status


@profile_bp.get("")
@roles_required(ENTERPRISE)
def profile() -> tuple[str, int]:
    """Show my enterprise's contact data, in full, with the form to change it."""
    return _profile_page()


@profile_bp.post("")
@roles_required(ENTERPRISE)
def update_profile() -> Response | tuple[str, int]:
    """Change my enterprise's contact data."""
    form = {name: request.form.get(name, "") for name in enterprise_profile.FIELDS}
    try:
        with engine().transaction() as session:
            enterprise_profile.update_contact(session, engine().clock.now(), current_actor(), form)
    except ValidationFailed as error:
        return _profile_page(form, error.errors, 422)
    flash(_("Saved."), "success")
    return redirect(url_for("profile.profile"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(profile_bp)
