"""The landing page and the error pages."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template
from werkzeug.exceptions import HTTPException

from engine.loans.queries import platform_summary

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """Show the platform's headline numbers."""
    with current_app.extensions["engine"].transaction() as session:
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
