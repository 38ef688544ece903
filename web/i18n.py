"""Interface language: Simplified Chinese by default, English on request."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    return "zh"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
