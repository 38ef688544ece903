"""Security headers on every response: a strict Content-Security-Policy and the usual companions.

Pages load scripts only from this origin (our own files and the whitelisted vendor files) and
carry no inline script or event handler; data for scripts travels in `application/json` script
elements, which browsers never execute. Styles may be inline: the pages have one style block and
bpmn-js draws SVG with style attributes.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: browsers should insist on it
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
