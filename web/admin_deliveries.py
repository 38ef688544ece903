"""System admins: deliveries that kept failing (dead letters), with the error and a retry."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from engine.platform.access import SYSTEM_ADMIN
from engine.workflow.errors import NotFound
from notifications.delivery import dead_letters, retry_dead_letter
from web.auth import current_actor
from web.pages import engine, roles_required

bp = Blueprint("admin_deliveries", __name__, url_prefix="/admin/deliveries")
LISTED = 200
CHANNEL = {"in_app": _l("In-app"), "email": _l("E-mail"), "webhook": _l("Webhook")}
ID = "int(max=2147483647)"


@bp.get("")
@roles_required(SYSTEM_ADMIN)
def index() -> str:
    """List the dead letters: topic, channel, recipient, attempts and the last error."""
    with engine().reading() as session:
        rows = dead_letters(session, LISTED)
    return render_template("admin/deliveries.html", rows=rows, limit=LISTED, CHANNEL=CHANNEL)


@bp.post(f"/<{ID}:delivery_id>/retry")
@roles_required(SYSTEM_ADMIN)
def retry(delivery_id: int) -> Response:
    """Give a dead letter a fresh round of attempts, starting now."""
    try:
        retry_dead_letter(engine(), delivery_id, current_actor().id)
    except NotFound:
        flash(_("This delivery is no longer a dead letter."), "error")
    else:
        flash(_("Delivery %(id)s will be sent again shortly.", id=delivery_id), "success")
    return redirect(url_for("admin_deliveries.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
