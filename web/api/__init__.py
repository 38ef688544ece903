"""The REST API (/api/v1) for banks' systems (银行直连), enterprises' apps and the portal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from engine.workflow.errors import EngineError, RateLimited
from web.api.auth import Unauthenticated
from web.api.errors import (
    MAX_JSON_DEPTH,
    engine_error_response,
    error_response,
    http_error_response,
    refuse_unsafe_json,
    server_error_response,
    stamp,
)
from web.api.schemas import ErrorOut

API_PREFIX = "/api/v1"


def _is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(f"{API_PREFIX}/")


class JsonErrorApi(Api):
    """flask-smorest with our error shape, documented as the default response of every operation.

    Its handlers answer JSON on /api/v1 only; elsewhere the pages' own (HTML) handlers answer."""

    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self) -> None:
        handlers = self._app.error_handler_spec[None][None]
        pages_http_error: Callable[[Any], Any] | None = handlers.get(HTTPException)
        pages_unexpected_error: Callable[[Any], Any] | None = handlers.get(Exception)

        def http_error(error: HTTPException) -> Any:
            if _is_api_request() or pages_http_error is None:
                return self.handle_http_exception(error)
            return pages_http_error(error)

        def unexpected_error(error: Exception) -> Any:
            if _is_api_request() or pages_unexpected_error is None:
                return server_error_response(error)
            return pages_unexpected_error(error)

        self._app.register_error_handler(HTTPException, http_error)
        self._app.register_error_handler(Exception, unexpected_error)

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error_response(error)


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
        "percentages as strings, times are ISO-8601 with an offset (years 1900 to 2200). State-changing "
        "calls accept an Idempotency-Key header: a retry with the same body returns the first response. "
        "Every error is JSON {code, message, errors, request_id}; the request id is also the X-Request-Id "
        "response header (send your own, up to 100 letters, digits and . _ : -, to trace a call). Bodies "
        f"are limited to {app.config['MAX_CONTENT_LENGTH']} bytes (413) and JSON to {MAX_JSON_DEPTH} levels "
        "of nesting; text may not hold NUL, lone surrogates or control characters (multi-line text keeps "
        "tab and line breaks).")}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    app.extensions["api"] = api

    from web.api import applications, definitions, docs, incidents, migrations, supervision, tasks, tokens
    from web.auth import csrf

    for module in (applications, supervision, definitions, tokens, incidents, migrations, tasks):
        csrf.exempt(module.blp)  # bearer tokens, no cookies: CSRF cannot ride on them
        api.register_blueprint(module.blp, url_prefix=f"{API_PREFIX}{module.PREFIX}")
    app.register_blueprint(docs.bp, url_prefix=API_PREFIX)

    @app.before_request
    def _refuse_unsafe_json() -> Response | None:
        return refuse_unsafe_json() if _is_api_request() else None

    @app.after_request
    def _stamp_request_id(response: Response) -> Response:
        return stamp(response) if _is_api_request() else response

    @app.errorhandler(Unauthenticated)
    def _unauthenticated(error: Unauthenticated) -> Response:
        response = error_response(401, "unauthenticated", str(error))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    from web.views import engine_error_page

    @app.errorhandler(EngineError)
    def _engine_error(error: EngineError) -> Response | tuple[str, int]:
        if not _is_api_request():
            return engine_error_page(error)
        status, body = engine_error_response(error)
        response = error_response(status, **body)
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
