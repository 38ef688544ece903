"""Request guards shared by the pages and the API."""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from web.api import API_PREFIX

# A JSON escape of NUL: \u0000 after an even number of backslashes (`\\u0000` is the text "\u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _body() -> bytes:
    """The body, read once and kept. Werkzeug refuses a Content-Length above MAX_CONTENT_LENGTH with
    413 before reading, but silently cuts a streamed (chunked) body at the limit; refuse that too."""
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        raise RequestEntityTooLarge()
    return body


def _has_nul() -> bool:
    """NUL characters anywhere in the request (PostgreSQL cannot store them; no text needs them).

    Each part is decoded the way it will be read: '%00' is a NUL in a query string or a form, but
    in a JSON body it is just the text '%00' (as in '50%00')."""
    if "\x00" in request.path:
        return True
    if any("\x00" in text for pair in request.args.items(multi=True) for text in pair):
        return True
    if any("\x00" in request.headers.get(name, "") for name in ("Authorization", "Idempotency-Key")):
        return True
    body = _body()
    if b"\x00" in body:
        return True
    if request.is_json:
        return _JSON_NUL.search(body) is not None
    if request.mimetype == "application/x-www-form-urlencoded":
        return any("\x00" in text for pair in request.form.items(multi=True) for text in pair)
    return False


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
