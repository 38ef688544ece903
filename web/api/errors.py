"""Every API error is JSON: {"code", "message", "errors": {field: [messages]}, "request_id"}.

The request id is the caller's sane `X-Request-Id` or one made here; it is sent back as a header on
every API response, put into every error body, and written in the log line of a server error, so
that a report from a caller leads to the log.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.platform.idempotency import IdempotencyKeyReused
from engine.workflow.errors import (
    ConcurrencyConflict,
    EngineError,
    Forbidden,
    InvalidTransition,
    ModelError,
    NotFound,
    RateLimited,
    ScriptSecurityError,
    ValidationFailed,
)

STATUS_OF: list[tuple[type[EngineError], int]] = [
    (RateLimited, 429),
    (NotFound, 404),
    (Forbidden, 403),
    (ValidationFailed, 422),
    (ModelError, 422),
    (ScriptSecurityError, 422),
    (IdempotencyKeyReused, 409),
    (ConcurrencyConflict, 409),
    (InvalidTransition, 409),
]
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is kept only if it cannot forge a log line or bloat one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", re.ASCII)
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def request_id() -> str:
    """This request's id: the caller's X-Request-Id if it is sane, else a new one."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def error_body(code: str, message: str, errors: dict[str, list[str]] | None = None,
               **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or {}, **extra}


def error_response(http_status: int, code: str, message: str, errors: dict[str, list[str]] | None = None,
                   **extra: Any) -> Response:
    """An error body (with the request id) as a response; `extra` may carry e.g. a 409's `status`."""
    response = jsonify(error_body(code, message, errors, request_id=request_id(), **extra))
    response.status_code = http_status
    return response


def status_of(error: EngineError) -> int:
    """The HTTP status of a named engine error (the API's and the pages' one mapping)."""
    return next((code for kind, code in STATUS_OF if isinstance(error, kind)), 400)


def engine_error_response(error: EngineError) -> tuple[int, dict[str, Any]]:
    """The status and body for a named engine error (a 409 carries the current status)."""
    status = status_of(error)
    extra = {"status": error.context["status"]} if "status" in error.context else {}
    if isinstance(error.context.get("reason"), str):  # a refused disclosure says why (authorizations.py)
        extra["reason"] = error.context["reason"]
    if "readable_until" in error.context:
        extra["readable_until"] = error.context["readable_until"].isoformat()
    errors = error.errors if isinstance(error, ValidationFailed) else {}
    return status, error_body(error.code, error.message, errors, **extra)


def http_error_response(error: HTTPException) -> Response:
    """webargs' 422 carries {location: {field: [messages]}}; flatten it to {field: [messages]}."""
    messages = getattr(error, "data", {}).get("messages", {}) if hasattr(error, "data") else {}
    errors: dict[str, list[str]] = {}
    for location in messages.values():
        errors.update(_flatten(location))
    name = (error.name or "error").lower().replace(" ", "_")
    if (error.code or 500) >= 500:
        current_app.logger.error("%s on %s %s, request_id=%s", error.name, request.method, request.path,
                                 request_id(), exc_info=error)
    response = error_response(error.code or 500, name, error.description or error.name or "Error", errors)
    headers = dict(error.get_headers())
    for header in ("Allow", "Retry-After"):  # 405 says what is allowed, 429/503 when to come back
        if header in headers:
            response.headers[header] = headers[header]
    return response


def server_error_response(error: BaseException) -> Response:
    """Log the unexpected error with the request id and answer 500 without any detail."""
    current_app.logger.error("Unhandled error on %s %s, request_id=%s", request.method, request.path,
                             request_id(), exc_info=error)
    return error_response(500, "internal_server_error",
                          "Something went wrong on our side; quote the request_id when reporting it.")


def stamp(response: Response) -> Response:
    """Send the request id as a header, and in the body of an error (whoever built it)."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    if response.status_code >= 400 and response.is_json and not response.is_streamed:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and body.get("request_id") != request_id():
            body["request_id"] = request_id()
            response.set_data(current_app.json.response(body).get_data())
    return response


def refuse_unsafe_json() -> Response | None:
    """Refuse a JSON body nested deeper than MAX_JSON_DEPTH, with lone surrogates (no UTF-8 text
    can hold them, so no database either) or with NaN/Infinity; answer 400 before any view runs."""
    if not request.is_json:
        return None
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        return _bad_json(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.")
    except ValueError:  # also UnicodeDecodeError and integers too long to read
        return _bad_json("The body is not valid JSON.")
    problem = _first_problem(body)
    if problem is None:
        return None
    where, message = problem
    return error_response(400, "bad_request", message, {where or "_schema": [message]})


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bad_json(message: str) -> Response:
    return error_response(400, "bad_request", message, {"_schema": [message]})


def _first_problem(body: Any) -> tuple[str, str] | None:
    """Walk the document without recursion: too deep, or a string (key or value) with a surrogate."""
    pending: list[tuple[Any, str, int]] = [(body, "", 1)]
    while pending:
        value, where, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return where, f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep."
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _SURROGATE.search(key):
                    return where, "Text must be valid Unicode (no lone surrogates)."
                pending.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(value, str) and _SURROGATE.search(value):
            return where, "Text must be valid Unicode (no lone surrogates)."
    return None


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
    else:
        items = messages if isinstance(messages, list) else [messages]
        flat[prefix.rstrip(".") or "_schema"] = [str(m) for m in items]
    return flat
