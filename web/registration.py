"""Self-registration (实名注册): the form, the code sent to the contact, and the new account."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, current_app, flash, make_response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.platform import registration
from engine.platform.registration import commitment
from engine.platform.registration.codes import HUNAN_PREFECTURES
from engine.platform.registration.providers import identity_verifier_named, sms_sender_named
from engine.workflow.errors import RateLimited, ValidationFailed
from web.auth import client_source
from web.pages import engine
from web.registration_labels import APPLICANT_KIND, INDUSTRY_SECTION, SIZE_CLASS, region_name, worded

bp = Blueprint("registration", __name__, url_prefix="/register")
_COOKIE = "registration"  # the pending registration's secret, in the signed session cookie
KEPT = ("applicant_kind", "credit_code", "name", "legal_representative", "region_choice", "region_other",
        "industry_section", "size_class", "username", "display_name", "channel", "email", "phone")


def settings() -> registration.RegistrationSettings:
    return current_app.extensions["registration"]


def _language() -> str:
    return "en" if str(get_locale()) == "en" else "zh"


def _form_page(errors: dict[str, list[str]] | None = None, form: dict[str, str] | None = None,
               status: int = 200, retry_after: int | None = None) -> Response:
    language = _language()
    response = make_response(render_template(
        "registration/form.html", errors=errors or {}, form=form or {}, settings=settings(),
        commitment_text=commitment.text(language), commitment_version=commitment.VERSION,
        kinds=APPLICANT_KIND, sections=INDUSTRY_SECTION, sizes=SIZE_CLASS, prefectures=HUNAN_PREFECTURES,
        retry_after=retry_after), status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.get("")
def form() -> Response:
    """Show the registration form with the credit commitment."""
    return _form_page()


@bp.post("")
def start() -> Response:
    """Check the form, keep it pending and send a code to the contact."""
    form = {name: request.form.get(name, "") for name in KEPT}
    data = dict(request.form.items())
    choice = form["region_choice"]
    data["region_code"] = form["region_other"] if choice == "other" else choice
    try:
        started = registration.start(engine(), settings(), data, language=_language(), source=client_source())
    except ValidationFailed as error:
        errors = worded(error.problems)
        if "region_code" in errors:
            errors["region_choice"] = errors.pop("region_code")
        return _form_page(errors, form, 422)
    except RateLimited as limited:
        flash(_("Too many registrations from this address. Please wait a moment and try again."), "error")
        return _form_page(None, form, 429, retry_after=limited.retry_after)
    cookie_session[_COOKIE] = started.secret
    if not started.sms_sent:
        flash(_("The text message could not be sent. Ask for a new code shortly."), "error")
    return redirect(url_for("registration.code"))


def _code_page(errors: dict[str, list[str]] | None = None, status: int = 200) -> Response | tuple[str, int]:
    waiting = registration.waiting(engine(), settings(), cookie_session.get(_COOKIE, ""))
    if waiting is None:
        flash(_("This registration has ended or expired. Please fill in the form again."), "error")
        return redirect(url_for("registration.form"))
    return render_template("registration/code.html", waiting=waiting, errors=errors or {},
                           minutes=settings().code_minutes, address=_masked(waiting.address)), status


def _masked(address: str) -> str:
    if "@" in address:
        local, _sep, domain = address.partition("@")
        return f"{local[:2]}***@{domain}"
    return f"{address[:3]}****{address[-4:]}"


@bp.get("/code")
def code() -> Response | tuple[str, int]:
    """Show where the code went and the field for it."""
    return _code_page()


@bp.post("/code")
def verify() -> Response | tuple[str, int]:
    """Check the code; the right one creates the enterprise and its first user."""
    outcome = registration.verify(engine(), settings(), cookie_session.get(_COOKIE, ""),
                                  request.form.get("code", ""))
    if outcome.status == "completed":
        cookie_session.pop(_COOKIE, None)
        flash(_("Registration complete. Sign in as %(username)s to apply for loans.", username=outcome.username),
              "success")
        if outcome.identity_status == "pending":
            flash(_("The enterprise's real-name check is waiting for the platform's manual review; you can apply "
                    "meanwhile."), "success")
        return redirect(url_for("auth.login"))
    if outcome.status == "wrong":
        return _code_page({"code": [_("The code is wrong. Attempts left: %(left)s.", left=outcome.attempts_left)]},
                          422)
    if outcome.status == "expired":
        return _code_page({"code": [_("The code has expired. Ask for a new code.")]}, 422)
    if outcome.status == "locked":
        return _code_page({"code": [_("Too many wrong codes: this registration is locked. Please fill in the form "
                                      "again later.")]}, 422)
    if outcome.status in ("duplicate", "username_taken"):
        cookie_session.pop(_COOKIE, None)
        flash(_("This unified social credit code is registered already. If it is yours, contact the platform's "
                "operator.") if outcome.status == "duplicate" else _("This username is taken."), "error")
        return redirect(url_for("registration.form"))
    return _code_page()


@bp.post("/code/resend")
def resend() -> Response | tuple[str, int]:
    """Send a new code; the previous one stops working."""
    try:
        result = registration.resend(engine(), settings(), cookie_session.get(_COOKIE, ""))
    except RateLimited as limited:
        return _code_page({"resend": [_("Please wait %(seconds)s seconds before asking for a new code.",
                                        seconds=limited.retry_after)]}, 429)
    if result == "sent":
        flash(_("A new code was sent."), "success")
    elif result == "not_sent":
        flash(_("The text message could not be sent. Ask for a new code shortly."), "error")
    elif result == "used_up":
        flash(_("No more codes can be sent for this registration. Please fill in the form again later."), "error")
    return redirect(url_for("registration.code"))


def init_app(app: Flask) -> None:
    config = app.config
    key = config["VERIFICATION_CODE_KEY"] or f"verification-codes:{config['SECRET_KEY']}"
    app.extensions["registration"] = registration.RegistrationSettings(
        code_key=hashlib.sha256(key.encode()).digest(), email_enabled=bool(config["SMTP_HOST"]),
        sms=sms_sender_named(config["SMS_SENDER"]), identity=identity_verifier_named(config["IDENTITY_VERIFIER"]),
        code_minutes=config["REGISTRATION_CODE_MINUTES"], max_wrong_codes=config["REGISTRATION_MAX_WRONG_CODES"],
        resend_seconds=config["REGISTRATION_RESEND_SECONDS"], max_codes=config["REGISTRATION_MAX_CODES"],
        starts_per_source=config["REGISTRATION_STARTS_PER_SOURCE"],
        starts_per_address=config["REGISTRATION_STARTS_PER_ADDRESS"],
        window_minutes=config["REGISTRATION_WINDOW_MINUTES"])
    app.jinja_env.globals["region_name"] = region_name
    app.register_blueprint(bp)
