"""Request guards shared by the pages and the API."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from web.api import API_PREFIX

_NUL_MARKERS = (b"\x00", b"\\u0000", b"%00")


def _has_nul() -> bool:
    """NUL characters anywhere in the request (PostgreSQL cannot store them; no text needs them)."""
    if "\x00" in request.path:
        return True
    raw = [request.query_string, request.get_data(cache=True)]
    raw += [request.headers.get(name, "").encode() for name in ("Authorization", "Idempotency-Key")]
    return any(marker in part for part in raw for marker in _NUL_MARKERS)


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul() -> Response | None:
        if not _has_nul():
            return None
        message = "NUL characters are not allowed in requests."
        if request.path.startswith(API_PREFIX):
            response = jsonify({"code": "bad_request", "message": message, "errors": {}})
            response.status_code = 400
            return response
        raise BadRequest(message)
