"""Every API error is JSON: {"code", "message", "errors": {field: [messages]}}."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import (
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
from engine.idempotency import IdempotencyKeyReused

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


def error_body(code: str, message: str, errors: dict[str, list[str]] | None = None,
               **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or {}, **extra}


def engine_error_response(error: EngineError) -> tuple[int, dict[str, Any]]:
    """The status and body for a named engine error (a 409 carries the current status)."""
    status = next((code for kind, code in STATUS_OF if isinstance(error, kind)), 400)
    extra = {"status": error.context["status"]} if "status" in error.context else {}
    errors = error.errors if isinstance(error, ValidationFailed) else {}
    return status, error_body(error.code, error.message, errors, **extra)


def http_error_response(error: HTTPException) -> Response:
    """webargs' 422 carries {location: {field: [messages]}}; flatten it to {field: [messages]}."""
    messages = getattr(error, "data", {}).get("messages", {}) if hasattr(error, "data") else {}
    errors: dict[str, list[str]] = {}
    for location in messages.values():
        errors.update(_flatten(location))
    name = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(error_body(name, error.description or error.name or "Error", errors))
    response.status_code = error.code or 500
    return response


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
    else:
        items = messages if isinstance(messages, list) else [messages]
        flat[prefix.rstrip(".") or "_schema"] = [str(m) for m in items]
    return flat
