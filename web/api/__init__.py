"""The REST API (/api/v1) for banks' systems (银行直连), enterprises' apps and the portal."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from engine.errors import EngineError, RateLimited
from web.api.auth import Unauthenticated
from web.api.errors import engine_error_response, error_body, http_error_response
from web.api.schemas import ErrorOut

API_PREFIX = "/api/v1"


class JsonErrorApi(Api):
    """flask-smorest with our error shape, documented as the default response of every operation."""

    ERROR_SCHEMA = ErrorOut

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error_response(error)


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="信易贷 loan workflow API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = JsonErrorApi(app, spec_kwargs={"security": [{"bearer": []}], "info": {"description": (
        "Authenticate with 'Authorization: Bearer <secret>': an institution's API key (银行直连) or "
        "a user token from POST /api/v1/tokens. Money is a string of yuan with two places, rates are "
        "percentages as strings, times are ISO-8601 with an offset. State-changing calls accept an "
        "Idempotency-Key header: a retry with the same body returns the first response.")}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    app.extensions["api"] = api

    from web.api import applications, definitions, docs, supervision, tokens
    from web.auth import csrf

    for module in (applications, supervision, definitions, tokens):
        csrf.exempt(module.blp)  # bearer tokens, no cookies: CSRF cannot ride on them
        api.register_blueprint(module.blp, url_prefix=f"{API_PREFIX}{module.PREFIX}")
    app.register_blueprint(docs.bp, url_prefix=API_PREFIX)

    @app.errorhandler(Unauthenticated)
    def _unauthenticated(error: Unauthenticated) -> Response:
        response = jsonify(error_body("unauthenticated", str(error)))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(EngineError)
    def _engine_error(error: EngineError) -> Response | tuple[str, int]:
        status, body = engine_error_response(error)
        response = jsonify(body)
        response.status_code = status
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
