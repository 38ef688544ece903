"""System admins: enterprises (list, create, edit, real-name review) and renaming institutions, products, users."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.platform import admin_records
from engine.platform.access import SYSTEM_ADMIN
from engine.platform.registration.codes import HUNAN_PREFECTURES
from engine.workflow.errors import NotFound, ValidationFailed
from web.auth import current_actor
from web.pages import engine, roles_required
from web.paging import PER_PAGE, Pager, offset_for, requested_page
from web.registration_labels import (
    APPLICANT_KIND,
    IDENTITY_METHOD,
    IDENTITY_STATUS,
    INDUSTRY_SECTION,
    SIZE_CLASS,
    worded,
)

bp = Blueprint("admin_records", __name__, url_prefix="/admin")
ID = "int(max=2147483647)"
FIELDS = ("applicant_kind", "credit_code", "name", "legal_representative", "region_code", "industry_section",
          "size_class")
CHOICES = {"kinds": APPLICANT_KIND, "sections": INDUSTRY_SECTION, "sizes": SIZE_CLASS,
           "prefectures": HUNAN_PREFECTURES, "IDENTITY_STATUS": IDENTITY_STATUS, "IDENTITY_METHOD": IDENTITY_METHOD}


def _form() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in FIELDS}


@bp.get("/enterprises")
@roles_required(SYSTEM_ADMIN)
def enterprises() -> str:
    """List the enterprises, by text in the name or credit code."""
    page, text = requested_page(), request.args.get("text", "")
    with engine().reading() as session:
        rows, total = admin_records.list_enterprises(session, text, limit=PER_PAGE, offset=offset_for(page))
    return render_template("admin/enterprises.html", rows=rows, text=text, pager=Pager(page, PER_PAGE, total, False),
                           **CHOICES)


def _new_page(errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None,
              status: int = 200) -> tuple[str, int]:
    return render_template("admin/enterprise.html", record=None, errors=errors or {}, form=form or {},
                           **CHOICES), status


@bp.get("/enterprises/new")
@roles_required(SYSTEM_ADMIN)
def new_enterprise() -> tuple[str, int]:
    """Show the form for a new enterprise."""
    return _new_page()


@bp.post("/enterprises/new")
@roles_required(SYSTEM_ADMIN)
def create_enterprise() -> Response | tuple[str, int]:
    """Record an enterprise with the registration's checks."""
    form = _form()
    try:
        with engine().transaction() as session:
            enterprise = admin_records.create_enterprise(session, engine().clock.now(), current_actor().id, form)
            enterprise_id, name = enterprise.id, enterprise.name
    except ValidationFailed as error:
        return _new_page(worded(error.problems), form, 422)
    flash(_("The enterprise %(name)s was created.", name=name), "success")
    return redirect(url_for("admin_records.enterprise", enterprise_id=enterprise_id))


def _record_page(enterprise_id: int, errors: dict[str, list[str]] | None = None,
                 form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    with engine().reading() as session:
        try:
            record = admin_records.enterprise_record(session, enterprise_id)
        except NotFound:
            abort(404)
        shown = form or {name: getattr(record.enterprise, name) or "" for name in FIELDS}
        page = render_template("admin/enterprise.html", record=record, errors=errors or {}, form=shown, **CHOICES)
    return page, status


@bp.get(f"/enterprises/<{ID}:enterprise_id>")
@roles_required(SYSTEM_ADMIN)
def enterprise(enterprise_id: int) -> tuple[str, int]:
    """Show an enterprise's record for editing, with its users, commitments and real-name checks."""
    return _record_page(enterprise_id)


@bp.post(f"/enterprises/<{ID}:enterprise_id>")
@roles_required(SYSTEM_ADMIN)
def update_enterprise(enterprise_id: int) -> Response | tuple[str, int]:
    """Change an enterprise's fields (audited by field name)."""
    form = _form()
    try:
        with engine().transaction() as session:
            changed = admin_records.update_enterprise(session, engine().clock.now(), current_actor().id,
                                                      enterprise_id, form)
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        return _record_page(enterprise_id, worded(error.problems), form, 422)
    flash(_("The enterprise was changed.") if changed else _("Nothing was changed."), "success")
    return redirect(url_for("admin_records.enterprise", enterprise_id=enterprise_id))


@bp.post(f"/enterprises/<{ID}:enterprise_id>/identity")
@roles_required(SYSTEM_ADMIN)
def review_identity(enterprise_id: int) -> Response:
    """Record the manual review of the enterprise's real name: verified or refused."""
    outcome = request.form.get("outcome")
    if outcome not in ("verified", "refused"):
        abort(400)
    try:
        with engine().transaction() as session:
            admin_records.review_identity(session, engine().clock.now(), current_actor().id, enterprise_id,
                                          outcome == "verified")
    except NotFound:
        abort(404)
    flash(_("The real-name review was recorded."), "success")
    return redirect(url_for("admin_records.enterprise", enterprise_id=enterprise_id))


def _rename(change: Callable[..., None], *ids: int) -> None:
    """Run one of admin_records' renames with the form; flash its outcome (404 if the record is gone)."""
    try:
        with engine().transaction() as session:
            change(session, engine().clock.now(), current_actor().id, *ids, dict(request.form))
    except NotFound:
        abort(404)
    except ValidationFailed as error:
        messages = [message for field in worded(error.problems).values() for message in field]
        flash(_("The name was not changed: %(reason)s", reason=messages[0] if messages else ""), "error")
    else:
        flash(_("The name was changed."), "success")


@bp.post(f"/institutions/<{ID}:institution_id>/name")
@roles_required(SYSTEM_ADMIN)
def rename_institution(institution_id: int) -> Response:
    """Rename an institution (its code stays)."""
    _rename(admin_records.rename_institution, institution_id)
    return redirect(url_for("admin.institution", institution_id=institution_id))


@bp.post(f"/institutions/<{ID}:institution_id>/products/<{ID}:product_id>/name")
@roles_required(SYSTEM_ADMIN)
def rename_product(institution_id: int, product_id: int) -> Response:
    """Rename a loan product (its code stays)."""
    _rename(admin_records.rename_product, institution_id, product_id)
    return redirect(url_for("admin.institution", institution_id=institution_id))


@bp.post(f"/users/<{ID}:user_id>/name")
@roles_required(SYSTEM_ADMIN)
def rename_user(user_id: int) -> Response:
    """Change a user's display name (the username is their identity in the audit trail and stays)."""
    _rename(admin_records.rename_user, user_id)
    return redirect(url_for("admin.users"))
