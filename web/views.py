"""The landing page and the error pages."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.loans.queries import platform_summary
from engine.workflow.errors import EngineError, ModelError, ScriptSecurityError
from web.api.errors import status_of
from web.auth import home_for
from web.labels import translate

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str | Response:
    """Send signed-in users to their own start page; platform figures only for those signed in."""
    if not current_user.is_authenticated:
        return render_template("index.html", summary=None)
    home = home_for(current_user.role)
    if home != url_for("home.index"):
        return redirect(home)
    with current_app.extensions["engine"].reading() as session:
        summary = platform_summary(session)
    return render_template("index.html", summary=summary)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Report that the web process is up."""
    return {"status": "ok"}


def _http_error(error: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=error), error.code or 500


def _unexpected_error(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("Unhandled error", exc_info=error)
    return render_template("error.html", error=None), 500


def engine_error_page(error: EngineError) -> tuple[str, int]:
    """A refusal no view handled itself, as a page in the interface language (never JSON, never a 500)."""
    status = status_of(error)
    if status in (403, 404):  # the pages' rule: what you may not see does not exist
        status, message = 404, _("The page you asked for does not exist.")
    elif isinstance(error, (ModelError, ScriptSecurityError)):
        current_app.logger.warning("Model failure on %s: %s", error.context.get("activity"), error.message)
        message = _("The process model failed at this step, so nothing was changed. The platform's "
                    "administrators can see the error; please try again later.")
    elif status == 429:
        message = _("Too many attempts; please wait a moment and try again.")
    elif error.code == "conflict":
        message = _("Someone changed this at the same moment, so nothing was changed. Please reload the page "
                    "and try again.")
    else:
        message = translate(error.message)
    return render_template("error.html", error=None, status=status, message=message), status


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
