"""The Idempotency-Key header on state-changing calls: replay the first response."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request

from engine import idempotency
from engine.errors import EngineError
from web.api.auth import current_caller
from web.api.errors import engine_error_response

HEADER = "Idempotency-Key"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(request.get_data() or b"")
    return digest.hexdigest()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run `view` once per (caller, Idempotency-Key); same body replays, another body is a 409."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise EngineError("Idempotency-Key is longer than 200 characters")
        engine = current_app.extensions["engine"]
        caller = current_caller()
        stored = idempotency.claim(engine, caller.credential_id, key, _fingerprint())
        if stored is not None:
            response = jsonify(stored.body)
            response.status_code = stored.status_code
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            result = view(*args, **kwargs)
        except EngineError as error:
            status, body = engine_error_response(error)
            idempotency.store(engine, caller.credential_id, key, status, body)
            response = jsonify(body)
            response.status_code = status
            return response
        except Exception:
            idempotency.release(engine, caller.credential_id, key)
            raise
        response = current_app.make_response(result)
        if response.status_code >= 500:
            idempotency.release(engine, caller.credential_id, key)
        else:
            idempotency.store(engine, caller.credential_id, key, response.status_code, response.get_json() or {})
        return response

    return wrapper


def as_response(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
