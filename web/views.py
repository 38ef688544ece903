"""The landing page and the error pages."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.loans.queries import platform_summary
from web.auth import home_for

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


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
