"""Bearer tokens for users of the interface's roles."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from engine.platform.access import check_login, issue_user_token
from web.api.auth import Unauthenticated
from web.api.schemas import ErrorOut, TokenIn, TokenOut
from web.auth import client_source, signin_throttle

PREFIX = "/tokens"
blp = Blueprint("tokens", __name__, description="Sign in for a bearer token")


@blp.route("", methods=["POST"])
@blp.arguments(TokenIn)
@blp.response(201, TokenOut)
@blp.alt_response(401, schema=ErrorOut)
@blp.alt_response(429, schema=ErrorOut)
def create_token(args: dict[str, Any]) -> dict[str, Any]:
    """Exchange a username and password for a bearer token (valid for 12 hours)."""
    engine = current_app.extensions["engine"]
    with engine.transaction() as session:
        user = check_login(session, engine.clock.now(), args["username"], args["password"],
                           source=client_source(), throttle=signin_throttle())
        if user is not None:
            secret, credential = issue_user_token(session, engine.clock.now(), user)
            return {"token": secret, "expires_at": credential.expires_at}
    # Outside the transaction, so that the failure is recorded before answering.
    raise Unauthenticated("Wrong username or password.")
