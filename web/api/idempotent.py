"""The Idempotency-Key header on state-changing calls: replay the first response.

The view's work and the kept response commit together, the key written with the response after the
work (one statement): a server killed after the commit has kept the response, one killed before it has
kept nothing, so a retry gets the first result or runs once. A key found taken rolls the work back and
replays the response kept under it. Conflicts that spoil the transaction (a deadlock, a concurrent save)
run the whole request again, a few times.
"""

from __future__ import annotations

import functools
import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request

from engine.platform import idempotency
from engine.workflow.errors import ConcurrencyConflict, EngineError, ValidationFailed
from engine.workflow.runtime import RETRY_ATTEMPTS
from web.api.auth import current_caller
from web.api.errors import engine_error_response

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class _KeyTaken(Exception):
    """The key was kept by another request meanwhile (or before): roll this one's work back."""


class _NotKept(Exception):
    """A response of ours that must not be kept under the key (a 5xx): roll back, answer it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(request.get_data() or b"")
    return digest.hexdigest()


def _replay(stored: idempotency.StoredResponse) -> Response:
    response = as_response(stored.body, stored.status_code)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run `view` once per (caller, Idempotency-Key); same body replays, another body is a 409."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationFailed({HEADER: [f"Use up to {MAX_KEY_LENGTH} printable characters."]})
        engine = current_app.extensions["engine"]
        fingerprint, credential_id = _fingerprint(), None
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                with engine.transaction() as session:
                    # Authenticated in this transaction (one transaction for the whole request).
                    credential_id = current_caller().credential_id
                    response = current_app.make_response(view(*args, **kwargs))
                    if response.status_code >= 500:
                        raise _NotKept(response)
                    if not idempotency.keep(session, engine.clock.now(), credential_id, key, fingerprint,
                                            response.status_code, response.get_json(silent=True) or {}):
                        raise _KeyTaken
                return response
            except _KeyTaken:
                try:
                    with engine.reading() as session:
                        stored = idempotency.answered(session, credential_id, key, fingerprint)
                except idempotency.IdempotencyKeyReused as reused:
                    return _refused(engine, credential_id, key, fingerprint, reused)
                if stored is not None:
                    return _replay(stored)
                # purged meanwhile: run the request again
            except _NotKept as failure:
                return failure.response
            except ConcurrencyConflict as conflict:
                if conflict.retryable and attempt < RETRY_ATTEMPTS:
                    time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # noqa: S311 - jitter, not crypto
                    continue
                return _refused(engine, credential_id, key, fingerprint, conflict)
            except EngineError as error:
                return _refused(engine, credential_id, key, fingerprint, error)
        # Every attempt found the key taken and then released (purged) before its answer could be read.
        return _refused(engine, credential_id, key, fingerprint,
                        ConcurrencyConflict("Another request with this Idempotency-Key kept changing it"))

    return wrapper


def _refused(engine: Any, credential_id: int, key: str, fingerprint: str, error: EngineError) -> Response:
    """Answer a refusal; keep it under the key if the same request would be refused again."""
    if credential_id is not None and not isinstance(error, idempotency.IdempotencyKeyReused):
        try:  # a retry of a request that was answered (its step taken) gets that answer, not this refusal
            if idempotency.is_lasting(error):
                status, body = engine_error_response(error)
                stored = idempotency.keep_refusal(engine, credential_id, key, fingerprint, status, body)
            else:
                with engine.reading() as session:
                    stored = idempotency.answered(session, credential_id, key, fingerprint)
        except idempotency.IdempotencyKeyReused as reused:
            error, stored = reused, None
        if stored is not None:
            return _replay(stored)
    status, body = engine_error_response(error)
    response = as_response(body, status)
    if "retry_after" in error.context:
        response.headers["Retry-After"] = str(error.context["retry_after"])
    return response


def as_response(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
