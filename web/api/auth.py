"""Bearer authentication for the API: institution keys and user tokens."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, after_this_request, current_app, g, request

from engine.loans.actors import Actor
from engine.platform.access import Caller, authenticate, touch_credential


class Unauthenticated(Exception):
    """No valid credential was presented."""


def authenticate_request() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Send 'Authorization: Bearer <API key or token>'.")
    engine = current_app.extensions["engine"]
    with engine.reading() as session:
        caller = authenticate(session, engine.clock.now(), secret.strip())
    if caller is None:
        raise Unauthenticated("The API key or token is unknown, revoked or expired.")
    if caller.touch and engine.in_transaction():
        # Authenticated inside a request's step: noting the use waits for that transaction to end, so
        # the credential's row is not held locked while the step runs (requests of one bank in parallel).
        after_this_request(_touching(caller.credential_id))
    elif caller.touch:
        _touch(caller.credential_id)
    return caller


def _touch(credential_id: int) -> None:
    engine = current_app.extensions["engine"]
    with engine.transaction() as session:
        touch_credential(session, engine.clock.now(), credential_id)


def _touching(credential_id: int) -> Callable[[Response], Response]:
    def touch(response: Response) -> Response:
        _touch(credential_id)
        return response
    return touch


def current_caller() -> Caller:
    caller = g.get("api_caller")
    if caller is None:
        caller = g.api_caller = authenticate_request()
    return caller


def current_actor() -> Actor:
    return current_caller().actor
