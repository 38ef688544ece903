"""A browsable page of the API, rendered from the OpenAPI document (works offline)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)


@bp.get("/docs")
def docs() -> str:
    """Show every endpoint with its parameters and responses."""
    spec = current_app.extensions["api"].spec.to_dict()
    return render_template("api_docs.html", spec=spec)
