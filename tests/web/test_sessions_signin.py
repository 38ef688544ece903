"""Web sessions end on the server, sign-in slows the guesser and not the owner, `next` stays on the site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent, LoginFailure, TaskRow, UserAccount
from engine.models.access import WebSession
from tests.conftest import POSTGRES_SERVER_URL, scalar, scratch_postgres_database
from tests.web.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"
NEW_PASSWORD = "another-long-password"


def _from(browser, address: str, username: str | None = None):
    client = browser()
    client.client.environ_base["REMOTE_ADDR"] = address
    if username:
        assert client.login(username).status_code == 302
    return client


def _copy_of(client, web_app):
    """A second client holding a copy of `client`'s session cookie, as a thief would."""
    thief = web_app.test_client()
    thief.set_cookie("session", client.client.get_cookie("session").value)
    return thief


# --- sessions ----------------------------------------------------------------------------------------

def test_a_session_cookie_copied_before_sign_out_is_refused_after_it(browser, web_app):
    officer = browser("officer-a")
    thief = _copy_of(officer, web_app)
    assert thief.get("/inbox").status_code == 200
    assert officer.post("/logout").status_code == 302
    refused = thief.get("/inbox")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert officer.get("/inbox").status_code == 302


def test_signing_in_again_in_the_same_browser_ends_the_previous_session(browser, web_app):
    officer = browser("officer-a")
    thief = _copy_of(officer, web_app)
    assert officer.login("officer-a").status_code == 302
    assert officer.get("/inbox").status_code == 200
    assert thief.get("/inbox").status_code == 302


def test_other_sessions_end_after_a_password_change_and_this_one_stays(browser, web_app, engine):
    here, elsewhere = browser("ent-user"), browser("ent-user")
    token = web_app.test_client().post("/api/v1/tokens", json={"username": "ent-user", "password": PASSWORD})
    secret = token.json["token"]
    changed = here.post("/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                              "password_again": NEW_PASSWORD})
    assert changed.status_code == 302
    assert here.get("/my/applications").status_code == 200
    refused = elsewhere.get("/my/applications")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    api = web_app.test_client().get("/api/v1/applications", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    assert browser().login("ent-user").status_code == 401
    assert browser().login("ent-user", NEW_PASSWORD).status_code == 302
    assert scalar(engine, sa.select(AuditEvent.action).where(AuditEvent.action == "password_changed"))


def test_a_password_change_needs_the_current_password_and_a_fit_new_one(browser, engine):
    user = browser("ent-user")
    wrong = user.post("/account/password?lang=en", {"current_password": "not-it", "password": NEW_PASSWORD,
                                                     "password_again": NEW_PASSWORD})
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.get_data(as_text=True)
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoginFailure)) == 1  # counted as a guess
    short = user.post("/account/password?lang=en", {"current_password": PASSWORD, "password": "short",
                                                     "password_again": "short"})
    assert short.status_code == 422 and "At least 10 characters." in short.get_data(as_text=True)
    differ = user.post("/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                             "password_again": NEW_PASSWORD + "x"})
    assert differ.status_code == 422
    assert user.get("/account/password").status_code == 200
    assert browser().login("ent-user").status_code == 302  # unchanged


def test_guessing_the_current_password_from_a_stolen_session_is_slowed(browser):
    user = browser("ent-user")
    for _ in range(3):
        assert user.post("/account/password", {"current_password": "guess", "password": NEW_PASSWORD,
                                               "password_again": NEW_PASSWORD}).status_code == 422
    slowed = user.post("/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                             "password_again": NEW_PASSWORD})
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"


def test_a_deactivated_account_stays_signed_out_when_reactivated(browser, web_app):
    officer = browser("officer-a")
    thief = _copy_of(officer, web_app)
    admin = browser("admin")
    user_id = scalar(web_app.extensions["engine"], sa.select(UserAccount.id).where(UserAccount.username == "officer-a"))
    assert admin.post(f"/admin/users/{user_id}/deactivate").status_code == 302
    assert thief.get("/inbox").status_code == 302
    assert admin.post(f"/admin/users/{user_id}/reactivate").status_code == 302
    assert thief.get("/inbox").status_code == 302


def test_a_session_is_looked_up_without_writing_until_it_is_minutes_old(browser, engine, clock):
    officer = browser("officer-a")
    seen = scalar(engine, sa.select(WebSession.last_seen_at))
    officer.get("/inbox")
    assert scalar(engine, sa.select(WebSession.last_seen_at)) == seen
    clock.advance(minutes=6)
    officer.get("/inbox")
    assert scalar(engine, sa.select(WebSession.last_seen_at)) == clock.now()


# --- throttling ----------------------------------------------------------------------------------------

def test_the_attackers_source_waits_longer_and_longer_while_the_owner_signs_in_elsewhere(browser, clock):
    attacker = _from(browser, ATTACKER)
    for _ in range(3):
        assert attacker.login("officer-a", "guess").status_code == 401
    waits = []
    for _ in range(12):
        slowed = attacker.login("officer-a")  # even the right password waits
        assert slowed.status_code == 429
        waits.append(int(slowed.headers["Retry-After"]))
        assert _from(browser, OWNER).login("officer-a").status_code == 302  # at once, every time
        clock.advance(seconds=waits[-1])
        assert attacker.login("officer-a", "guess").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_the_wait_is_shown_in_the_interface_language(browser):
    attacker = _from(browser, ATTACKER)
    for _ in range(3):
        attacker.login("officer-a", "guess")
    page = attacker.client.post("/login?lang=en", data={"username": "officer-a", "password": "guess",
                                                        "csrf_token": attacker.token})
    text = page.get_data(as_text=True)
    assert page.status_code == 429 and "Please wait a moment" in text and "<strong>1</strong>" in text


def test_password_spraying_across_accounts_is_slowed_but_not_for_those_who_signed_in_there(browser, web_app):
    colleague = _from(browser, ATTACKER, "officer-b")  # officer-b works behind the same address
    assert colleague.post("/logout").status_code == 302
    sprayer = _from(browser, ATTACKER)
    for number in range(20):
        assert sprayer.login(f"user-{number}", "Password1").status_code == 401
    slowed = sprayer.login("supervisor", "Password1")
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    assert _from(browser, OWNER).login("supervisor", "Password1").status_code == 401  # another source is not
    assert _from(browser, ATTACKER).login("officer-b").status_code == 302  # a known source for officer-b
    api = web_app.test_client()
    api.environ_base["REMOTE_ADDR"] = ATTACKER
    assert api.post("/api/v1/tokens", json={"username": "supervisor", "password": PASSWORD}).status_code == 429


def test_the_source_behind_a_trusted_proxy_is_the_forwarded_address(engine, database_url):
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "TRUSTED_PROXY_COUNT": 1}, engine=engine)
    client = app.test_client()
    for _ in range(3):
        client.post("/api/v1/tokens", json={"username": "nobody", "password": "x"},
                    headers={"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"})
    with engine.transaction() as session:
        assert set(session.scalars(sa.select(LoginFailure.source))) == {ATTACKER}
    slowed = client.post("/api/v1/tokens", json={"username": "nobody", "password": "x"},
                         headers={"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"})
    assert slowed.status_code == 429  # a forged first hop does not make a new source
    other = client.post("/api/v1/tokens", json={"username": "nobody", "password": "x"},
                        headers={"X-Forwarded-For": OWNER})
    assert other.status_code == 401


# --- redirects -----------------------------------------------------------------------------------------

PAYLOADS = ["//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
            "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example", "http:evil.example",
            "///evil.example", " //evil.example", "evil.example", "//evil.example/%2F..", "/\\/evil.example",
            "data:text/html,x", "https:/\\evil.example"]


def _stays_on_site(location: str) -> bool:
    parts = urlsplit(location)
    return (location.startswith("/") and not location.startswith(("//", "/\\")) and "\\" not in location
            and not parts.scheme and not parts.netloc and location.isprintable() and " " not in location)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sign_in_never_redirects_off_the_site(browser, payload):
    client = browser()
    page = client.get(f"/login?next={quote(payload, safe='')}")
    assert "evil" not in page.get_data(as_text=True)
    client.token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.client.post(f"/login?next={quote(payload, safe='')}", data={
        "username": "officer-a", "password": PASSWORD, "csrf_token": client.token, "next": payload})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"


def test_sign_in_returns_to_the_page_asked_for(browser):
    client = browser()
    sent = client.get("/inbox?due=3")
    assert sent.status_code == 302
    target = sent.headers["Location"]
    page = client.get(target)
    assert 'name="next" value="/inbox?due=3"' in page.get_data(as_text=True)
    client.token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.client.post(target, data={"username": "officer-a", "password": PASSWORD,
                                                "csrf_token": client.token, "next": "/inbox?due=3"})
    assert response.headers["Location"] == "/inbox?due=3"


def test_the_claim_form_never_redirects_off_the_site(browser, parties, engine):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    task_id = scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open"))
    officer = browser("officer-a")
    for payload in PAYLOADS:
        response = officer.post(f"/inbox/tasks/{task_id}/claim", {"next": payload})
        assert response.status_code == 302 and _stays_on_site(response.headers["Location"]), payload
        assert response.headers["Location"] == "/inbox", payload
    kept = officer.post(f"/inbox/tasks/{task_id}/unclaim", {"next": "/inbox?claimed=mine"})
    assert kept.headers["Location"] == "/inbox?claimed=mine"


# --- production start-up ------------------------------------------------------------------------------

# A scratch database of its own (never the suite's): production refuses SQLite, and this test
# drops everything it made. The server is the one the suite runs against, or the local default.
PRODUCTION_DB = f"production_start_{os.getpid()}"
PRODUCTION_URL = POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/" + PRODUCTION_DB


@pytest.fixture
def empty_production_database():
    with scratch_postgres_database(PRODUCTION_DB) as url:
        yield url


def _flask(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("LOAD_DEMO_DATA", "SCHEDULER_ENABLED", "FLASK_APP")}
    env.update(APP_ENV="production", SECRET_KEY="production-test-secret", DATABASE_URL=PRODUCTION_URL,
               PERSONAL_DATA_KEYS="a2tr" * 10 + "a2s=", PERSONAL_DATA_HASH_KEY="aGho" * 10 + "aGg=")
    return subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "web", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_production_init_db_works_on_an_empty_postgresql_database_and_demo_accounts_are_still_refused(
        empty_production_database):
    from engine.workflow.database import create_db_engine

    db = create_db_engine(empty_production_database)
    try:
        created = _flask("init-db")
        assert created.returncode == 0, created.stderr
        assert "Database ready" in created.stdout
        again = _flask("init-db")  # the schema exists now: the start-up check runs, and passes
        assert again.returncode == 0, again.stderr
        refused = _flask("init-db", "--demo")
        assert refused.returncode != 0 and "refused in production" in refused.stderr
        with db.begin() as conn:
            conn.execute(sa.text("INSERT INTO user_account (username, password_hash, role, display_name, active, "
                                 "created_at) VALUES ('admin', 'x', 'system_admin', 'admin', true, now())"))
        demo = _flask("init-db")
        assert demo.returncode != 0 and "Demo accounts exist" in demo.stderr
    finally:
        db.dispose()
