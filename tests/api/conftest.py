"""API fixtures: the app shares the test engine (controlled clock); callers hold real credentials."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.loans.actors import ENTERPRISE, OFFICER, SUPERVISOR
from engine.models import Institution
from engine.platform.access import PROCESS_AUTHOR, create_institution_key, create_user, issue_user_token
from web import create_app


@pytest.fixture
def app(engine, database_url):
    return create_app({"TESTING": True, "DATABASE_URL": database_url}, engine=engine)


@dataclass
class Caller:
    client: object
    secret: str

    def _headers(self, extra=None):
        return {"Authorization": f"Bearer {self.secret}", **(extra or {})}

    def get(self, path, **kwargs):
        return self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post(path, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@dataclass
class Callers:
    enterprise: Caller
    other_enterprise: Caller
    bank_a: Caller  # bank A's own system, with an API key
    bank_b: Caller
    officer_a: Caller  # a person, with a bearer token
    supervisor: Caller
    author: Caller
    anonymous: object


@pytest.fixture
def callers(app, engine, parties) -> Callers:
    client = app.test_client()
    now = engine.clock.now()
    with engine.transaction() as session:
        def token(username, role, **party):
            user = create_user(session, now, username, "long-enough-password", role, **party)
            return Caller(client, issue_user_token(session, now, user)[0])

        def key(institution_id):
            code = session.get(Institution, institution_id).code
            return Caller(client, create_institution_key(session, now, code, "core banking", "admin")[0])

        return Callers(
            enterprise=token("ent-user", ENTERPRISE, enterprise_id=parties.enterprise.enterprise_id),
            other_enterprise=token("other-user", ENTERPRISE, enterprise_id=parties.other_enterprise.enterprise_id),
            bank_a=key(parties.bank_a_id),
            bank_b=key(parties.bank_b_id),
            officer_a=token("officer-a", OFFICER, institution_id=parties.bank_a_id),
            supervisor=token("supervisor", SUPERVISOR),
            author=token("author", PROCESS_AUTHOR),
            anonymous=client,
        )
