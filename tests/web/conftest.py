"""Web fixtures: the app shares the test engine; `login` signs a demo-like user in with CSRF."""

from __future__ import annotations

import re

import pytest

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.platform.access import PROCESS_AUTHOR, SYSTEM_ADMIN, create_user
from web import create_app

PASSWORD = "long-enough-password"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_app(engine, database_url, parties):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url}, engine=engine)
    with engine.transaction() as session:
        now = engine.clock.now()
        create_user(session, now, "ent-user", PASSWORD, ENTERPRISE, enterprise_id=parties.enterprise.enterprise_id)
        create_user(session, now, "other-user", PASSWORD, ENTERPRISE,
                    enterprise_id=parties.other_enterprise.enterprise_id)
        create_user(session, now, "officer-a", PASSWORD, OFFICER, institution_id=parties.bank_a_id)
        create_user(session, now, "officer-b", PASSWORD, OFFICER, institution_id=parties.bank_b_id)
        create_user(session, now, "bank-admin-a", PASSWORD, INSTITUTION_ADMIN, institution_id=parties.bank_a_id)
        create_user(session, now, "supervisor", PASSWORD, SUPERVISOR)
        create_user(session, now, "author", PASSWORD, PROCESS_AUTHOR)
        create_user(session, now, "admin", PASSWORD, SYSTEM_ADMIN)
    return app


class Browser:
    """A test client that signs in and sends the CSRF token with every form, as a browser would."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.token = ""

    def login(self, username: str, password: str = PASSWORD):
        page = self.client.get("/login")
        self.token = TOKEN.search(page.get_data(as_text=True)).group(1)
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.token})

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, csrf: bool = True):
        payload = dict(data or {})
        if csrf:
            payload["csrf_token"] = self.token
        return self.client.post(path, data=payload)


@pytest.fixture
def browser(web_app):
    def make(username: str | None = None) -> Browser:
        b = Browser(web_app)
        if username:
            response = b.login(username)
            assert response.status_code == 302, response.get_data(as_text=True)
        return b
    return make
