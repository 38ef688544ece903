"""Browser packages installed from npm at set-up time (node_modules), served under /vendor.

Only the files the pages use are exposed; anything else under node_modules is 404. The location
is the FRONTEND_MODULES setting (default: node_modules beside the project).
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, abort, current_app, send_from_directory
from flask.typing import ResponseReturnValue

bp = Blueprint("assets", __name__, url_prefix="/vendor")

# Public name -> path inside node_modules.
VENDOR_FILES = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "chart.js": "chart.js/dist/chart.umd.min.js",
}

DEFAULT_MODULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules")


def modules_dir() -> str:
    return current_app.config.get("FRONTEND_MODULES") or DEFAULT_MODULES


def vendor_available(name: str) -> bool:
    """Whether a vendor file is installed (pages fall back to plain HTML without it)."""
    return name in VENDOR_FILES and os.path.isfile(os.path.join(modules_dir(), VENDOR_FILES[name]))


@bp.get("/<name>")
def vendor(name: str) -> ResponseReturnValue:
    """Serve one of the whitelisted vendor files, cached for a day."""
    if not vendor_available(name):
        abort(404)
    directory, filename = os.path.split(os.path.join(modules_dir(), VENDOR_FILES[name]))
    return send_from_directory(directory, filename, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["vendor_available"] = vendor_available
