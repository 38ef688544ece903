"""Signing in and out of the web interface: flask-login over server-side sessions; CSRF on every form.

The Flask session (a signed cookie) carries only a random secret naming a `web_session` row, so
that signing out, a password change, a reset or a deactivation ends the session on the server:
a copy of the cookie taken before is refused from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR, Actor
from engine.models import UserAccount
from engine.platform.access import (
    SYSTEM_ADMIN,
    WRONG_CURRENT_PASSWORD,
    SigninThrottle,
    actor_for_user,
    change_password,
    check_login,
    check_web_session,
    end_web_session,
    open_web_session,
    source_key,
    touch_web_session,
)
from engine.workflow.errors import RateLimited, ValidationFailed
from engine.workflow.runtime import Engine

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
# Messages of engine.platform.access shown on the password form, so that they are extracted and translated.
MESSAGES = [_l("The current password is wrong.")]
_SESSION_KEY = "_user_id"  # where flask-login keeps get_id(): here, the session's secret


@dataclass
class WebUser(UserMixin):
    """The signed-in person, detached from the database session."""

    id: int
    username: str
    role: str
    display_name: str
    actor: Actor
    session_secret: str

    def get_id(self) -> str:
        return self.session_secret


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _web_user(account: UserAccount, secret: str) -> WebUser:
    return WebUser(account.id, account.username, account.role, account.display_name, actor_for_user(account), secret)


@login_manager.user_loader
def _load_user(secret: str) -> WebUser | None:
    """Find the session's user with one lookup; its bookkeeping is written after the response."""
    engine = _engine()
    with engine.reading() as db:
        check = check_web_session(db, engine.clock.now(), secret)
        user = _web_user(check.user, secret) if check.user is not None else None
    if check.touch or check.revoke:
        g.web_session_write = (touch_web_session if check.touch else end_web_session, secret)
    if user is None:
        for key in (_SESSION_KEY, "_fresh", "_id"):
            cookie_session.pop(key, None)
    return user


def _write_session_bookkeeping(response: Response) -> Response:
    pending = g.pop("web_session_write", None)
    if pending is not None:
        write, secret = pending
        engine = _engine()
        with engine.transaction() as db:
            write(db, engine.clock.now(), secret)
    return response


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


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirect).

    Browsers read `//host`, `/\\host` and `/<tab>/host` as another site, so only a single slash
    followed by anything but a slash, a backslash or a control character or space passes.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if "\\" in target or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


def client_source() -> str:
    """Where this request comes from, for sign-in throttling (see TRUSTED_PROXY_COUNT)."""
    address = request.remote_addr
    proxies = current_app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return source_key(address)


def signin_throttle() -> SigninThrottle:
    return current_app.extensions["signin_throttle"]


def _too_many(template: str, limited: RateLimited, **context: object) -> Response:
    flash(_("Too many failed sign-ins from this address. Please wait a moment and try again."), "error")
    response = make_response(render_template(template, retry_after=limited.retry_after, **context), 429)
    response.headers["Retry-After"] = str(limited.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Show the sign-in form and sign the user in."""
    target = safe_next(request.form.get("next") or request.args.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=target)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    engine = _engine()
    now = engine.clock.now()
    try:
        with engine.transaction() as session:
            account = check_login(session, now, username, password, source=client_source(),
                                  throttle=signin_throttle()) if username else None
            user = _web_user(account, open_web_session(session, now, account)) if account is not None else None
            previous = cookie_session.get(_SESSION_KEY)
            if user is not None and previous:
                end_web_session(session, now, previous)  # signing in again in this browser ends the old session
    except RateLimited as limited:
        return _too_many("auth/login.html", limited, username=username, next=target)
    if user is None:
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", username=username, next=target), 401
    login_user(user)
    return redirect(target or home_for(user.role))


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign the user out and end the session on the server."""
    engine = _engine()
    with engine.transaction() as session:
        end_web_session(session, engine.clock.now(), current_user.session_secret)
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    """Show the form for a new password of one's own and change it."""
    if request.method == "GET":
        return render_template("auth/password.html", errors={})
    form = request.form
    engine = _engine()
    try:
        with engine.transaction() as session:
            changed = change_password(
                session, engine.clock.now(), current_user.id, form.get("current_password", ""),
                form.get("password", ""), form.get("password_again", ""), source=client_source(),
                keep_session=current_user.session_secret, throttle=signin_throttle())
    except ValidationFailed as error:
        return render_template("auth/password.html", errors=error.errors), 422
    except RateLimited as limited:
        return _too_many("auth/password.html", limited, errors={})
    if not changed:
        return render_template("auth/password.html", errors={"current_password": [WRONG_CURRENT_PASSWORD]}), 422
    flash(_("Your password was changed; your other sessions were signed out."), "success")
    return redirect(home_for(current_user.role))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    csrf.init_app(app)
    config = app.config
    app.extensions["signin_throttle"] = SigninThrottle(
        window=timedelta(minutes=config["SIGNIN_WINDOW_MINUTES"]),
        free_per_account_and_source=config["SIGNIN_FREE_FAILURES"],
        free_per_source=config["SIGNIN_SOURCE_FREE_FAILURES"],
        free_per_account=config["SIGNIN_ACCOUNT_FREE_FAILURES"],
        max_delay=timedelta(seconds=config["SIGNIN_MAX_DELAY_SECONDS"]))
    app.after_request(_write_session_bookkeeping)
    app.register_blueprint(bp)
