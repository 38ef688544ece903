"""Numbers, money, rates and instants as Chinese readers expect them; who did what, in words.

Money has thousands separators and two places (¥1,234,567.00), rates a space before the sign
(3.85 %), instants are Beijing time. Internal actor names (system:timer, user:…) become labels.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask, request, url_for
from flask_babel import lazy_gettext as _l

from engine.workflow.working_days import SHANGHAI

SYSTEM_ACTORS = {
    "system:timer": _l("Deadline timer (platform)"), "system:seed": _l("Platform set-up"),
    "system": _l("The platform"),
}
API_ACTOR = _l("The institution's system (API)")


def amount(value: Decimal | float | int | None) -> str:
    """1234567.5 -> '1,234,567.50'; nothing -> '—'."""
    return "—" if value is None else f"{Decimal(value):,.2f}"


def yuan(value: Decimal | float | int | None) -> str:
    """1234567.5 -> '¥1,234,567.50'."""
    return "—" if value is None else "¥" + amount(value)


def count(value: int | None) -> str:
    """1234 -> '1,234'."""
    return "—" if value is None else f"{value:,}"


def rate(value: Decimal | float | None, sign: bool = True) -> str:
    """An annual rate stored in percent: 3.8500 -> '3.85 %' (or '3.85' without the sign)."""
    if value is None:
        return "—"
    exact = Decimal(str(value))
    cents = exact.quantize(Decimal("0.01"))
    shown = f"{cents if cents == exact else exact.normalize():f}"
    return f"{shown} %" if sign else shown


def share(fraction: float | None, places: int = 1) -> str:
    """A fraction as percent: 0.8512 -> '85.1 %'."""
    return "—" if fraction is None else f"{fraction * 100:.{places}f} %"


def beijing(instant: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An aware instant in Beijing time; a naive one is taken as UTC (the database's)."""
    if instant is None:
        return ""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    local = instant.astimezone(SHANGHAI)
    if pattern == "%Y-%m-%d %H:%M":  # the usual case, without strftime: CSV exports call this per cell
        return local.isoformat(" ", "minutes")[:16]
    return local.strftime(pattern)


def deadline(instant: datetime | None) -> str:
    """A deadline (00:00 Beijing of the next day) as the law reads it: 'YYYY-MM-DD 24:00'."""
    if instant is None:
        return ""
    return (instant.astimezone(SHANGHAI).date() - timedelta(days=1)).isoformat() + " 24:00"


def day(value: date | None) -> str:
    return value.isoformat() if value else ""


def actor_label(actor: str | None) -> str:
    """Who acted, for people: a username as it is, the platform's own actors and API keys as labels."""
    if not actor:
        return ""
    if actor in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[actor])
    if actor.startswith("user:"):
        return actor.removeprefix("user:")
    if actor.startswith("system:"):
        return str(API_ACTOR) if actor.count(":") >= 2 else str(SYSTEM_ACTORS["system"])
    return actor


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one); the others are kept."""
    args = request.args.to_dict(flat=False)
    if "next" in args and not _safe_path(args["next"][0]):
        args.pop("next")  # never echo a redirect target the sign-in page would refuse
    for name, value in changes.items():
        if value is None or value == "":
            args.pop(name, None)
        else:
            args[name] = [str(value)]
    endpoint = request.endpoint or "home.index"
    return url_for(endpoint, **(request.view_args or {}), **args)


def _safe_path(target: str) -> bool:
    from web.auth import safe_next  # web.auth renders pages: imported late

    return safe_next(target) is not None


def language_url(language: str) -> str:
    """Switch the interface language and stay on this page with its filters."""
    if request.endpoint is None:  # an error page with no route: keep the path at least
        return f"{request.path}?lang={language}"
    return url_with(lang=language)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(amount=amount, yuan=yuan, count=count, rate=rate, share=share,
                                 beijing=beijing, deadline=deadline, day=day, actor=actor_label)
    app.jinja_env.globals.update(url_with=url_with, language_url=language_url)
