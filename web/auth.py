"""Signing in and out of the web interface (flask-login; CSRF on every form)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from engine.access import SYSTEM_ADMIN, actor_for_user, check_login
from engine.errors import RateLimited
from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR, Actor
from engine.models import UserAccount

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass
class WebUser(UserMixin):
    """The signed-in person, detached from the database session."""

    id: int
    username: str
    role: str
    display_name: str
    actor: Actor
    password_mark: str

    def get_id(self) -> str:
        # The session names the account and the password it was opened with (as Django does), so
        # that a password reset signs every other session of the account out.
        return f"{self.id}.{self.password_mark}"


def _password_mark(account: UserAccount) -> str:
    key = current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key
    return hmac.new(key, account.password_hash.encode(), hashlib.sha256).hexdigest()[:24]


def _web_user(account: UserAccount) -> WebUser:
    return WebUser(account.id, account.username, account.role, account.display_name, actor_for_user(account),
                   _password_mark(account))


@login_manager.user_loader
def _load_user(session_id: str) -> WebUser | None:
    user_id, _sep, mark = session_id.partition(".")
    if user_id.isdigit() and len(user_id) < 10:
        with current_app.extensions["engine"].reading() as db:
            account = db.get(UserAccount, int(user_id))
            if account is not None and account.active and hmac.compare_digest(mark, _password_mark(account)):
                return _web_user(account)
    # Deactivated, removed or its password changed: sign the session out for good, so that
    # reactivating the account does not bring an old session back to life.
    for key in ("_user_id", "_fresh", "_id"):
        cookie_session.pop(key, None)
    return None


def current_actor() -> Actor:
    return current_user.actor


def home_for(role: str) -> str:
    if role in (OFFICER, INSTITUTION_ADMIN):
        return url_for("inbox.index")
    if role == ENTERPRISE:
        return url_for("enterprise.index")
    if role == SUPERVISOR:
        return url_for("supervision.board")
    if role == SYSTEM_ADMIN:
        return url_for("admin.calendar")
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Show the sign-in form and sign the user in."""
    if request.method == "GET":
        return render_template("auth/login.html")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    engine = current_app.extensions["engine"]
    try:
        with engine.transaction() as session:
            account = check_login(session, engine.clock.now(), username, password) if username else None
            user = _web_user(account) if account is not None else None
    except RateLimited:
        flash(_("Too many failed sign-ins. Please wait a few minutes and try again."), "error")
        return render_template("auth/login.html", username=username), 429
    if user is None:
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", username=username), 401
    login_user(user)
    return redirect(home_for(user.role))


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign the user out."""
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    app.register_blueprint(bp)
