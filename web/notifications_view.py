"""Every signed-in user: their in-app notifications, the header's bell, marking read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.models import Notification
from notifications import inbox, texts
from web.pages import engine

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
ID = "int(max=2147483647)"
LISTED = 100


def _rendered(notification: Notification) -> dict[str, Any]:
    subject, body = texts.render(notification.topic, notification.params, gettext)
    return {"id": notification.id, "subject": subject, "body": body, "created_at": notification.created_at,
            "read": notification.read_at is not None}


@bp.get("")
@login_required
def index() -> str:
    """List the signed-in user's latest notifications, unread ones marked."""
    with engine().reading() as session:
        rows = [_rendered(n) for n in inbox.latest(session, current_user.id, LISTED)]
    return render_template("notifications/index.html", rows=rows, limit=LISTED)


def _target(reference: str | None) -> str:
    if reference:
        if current_user.role in (OFFICER, INSTITUTION_ADMIN):
            return url_for("inbox.show", reference=reference)
        if current_user.role == ENTERPRISE:
            return url_for("enterprise.show", reference=reference)
        if current_user.role == SUPERVISOR:
            return url_for("supervision.application", reference=reference)
    return url_for("notifications.index")


@bp.get(f"/<{ID}:notification_id>")
@login_required
def open_notification(notification_id: int) -> Response:
    """Mark one of the user's notifications read and go to the application it is about."""
    with engine().transaction() as session:
        notification = session.get(Notification, notification_id)
        if notification is None or notification.user_id != current_user.id:
            abort(404)
        inbox.mark_read(session, engine().clock.now(), current_user.id, notification_id)
        reference, params, topic = notification.params.get("reference"), notification.params, notification.topic
    if topic == "report.produced" and current_user.role == SUPERVISOR:
        return redirect(url_for("reports.index", kind=params.get("period_kind"), period=params.get("period")))
    return redirect(_target(reference))


@bp.post("/read")
@login_required
def mark_all_read() -> Response:
    """Mark every notification of the user read."""
    with engine().transaction() as session:
        inbox.mark_read(session, engine().clock.now(), current_user.id)
    return redirect(url_for("notifications.index"))


def _bell() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    with engine().reading() as session:
        return {"unread_notifications": inbox.unread_count(session, current_user.id)}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_bell)
