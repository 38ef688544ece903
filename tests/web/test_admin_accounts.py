"""System admins manage user accounts, institutions and loan products; everyone else gets a 404."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import url_for
from markupsafe import escape

from engine.loans import queries
from engine.models import ApiCredential, AuditEvent, Institution, LoanApplication, LoanProduct, UserAccount
from engine.platform import administration
from engine.platform.access import authenticate, create_user, issue_user_token
from engine.workflow.errors import ValidationFailed
from tests.conftest import rows, scalar
from tests.web.conftest import PASSWORD, TOKEN
from web.admin import MESSAGES

NEW_PASSWORD = "another-long-password"
ENTERPRISE_CODE = "91430100MA4L000001"  # the credit code of the `parties` fixture's enterprise


@pytest.fixture
def admin(browser):
    """The admin, with the interface in English (the messages asserted here are the English ones)."""
    client = browser("admin")
    client.get("/admin/users?lang=en")
    return client


def _user(engine, username: str) -> UserAccount | None:
    with engine.transaction() as session:
        return session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).first()


def _user_id(engine, username: str) -> int:
    return _user(engine, username).id


def _audit(engine, action: str | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    with engine.transaction() as session:
        return list(session.scalars(query))


def _count(engine, model) -> int:
    return scalar(engine, sa.select(sa.func.count()).select_from(model))


def _state(engine):
    """Everything an admin action could change."""
    return (rows(engine, sa.select(UserAccount.id, UserAccount.username, UserAccount.role, UserAccount.active,
                                   UserAccount.password_hash, UserAccount.institution_id,
                                   UserAccount.enterprise_id).order_by(UserAccount.id)),
            rows(engine, sa.select(Institution.id, Institution.code, Institution.name, Institution.status)
                 .order_by(Institution.id)),
            rows(engine, sa.select(LoanProduct.id, LoanProduct.code, LoanProduct.active).order_by(LoanProduct.id)),
            rows(engine, sa.select(ApiCredential.id, ApiCredential.revoked_at).order_by(ApiCredential.id)),
            _count(engine, AuditEvent))


def _shows(body: str, message: str) -> bool:
    return str(escape(message)) in body


def _new_user(**overrides) -> dict[str, str]:
    data = {"username": "new-person", "display_name": "New Person", "role": "supervisor",
            "password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "institution_id": "", "enterprise": ""}
    data.update(overrides)
    return data


# --- users ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "party", "label"), [
    ("officer", "bank_a", "Bank officer"),
    ("institution_admin", "bank_b", "Institution admin"),
    ("enterprise", "enterprise", "Enterprise user"),
    ("supervisor", None, "Supervisor"),
    ("process_author", None, "Process author"),
    ("system_admin", None, "System admin"),
])
def test_admin_creates_an_account_of_each_kind_who_can_then_sign_in(admin, browser, engine, parties, role, party,
                                                                    label):
    extra = {"bank_a": {"institution_id": str(parties.bank_a_id)},
             "bank_b": {"institution_id": str(parties.bank_b_id)},
             "enterprise": {"enterprise": f" {ENTERPRISE_CODE} "}}.get(party, {})
    response = admin.post("/admin/users/new", _new_user(role=role, **extra))
    assert response.status_code == 302, response.get_data(as_text=True)
    user = _user(engine, "new-person")
    assert (user.role, user.display_name, user.active) == (role, "New Person", True)
    assert user.institution_id == {"bank_a": parties.bank_a_id, "bank_b": parties.bank_b_id}.get(party)
    assert user.enterprise_id == (parties.enterprise.enterprise_id if party == "enterprise" else None)
    assert NEW_PASSWORD not in user.password_hash

    listing = admin.get("/admin/users?text=new-person").get_data(as_text=True)
    assert "new-person" in listing and label in listing
    assert {"bank_a": "Bank A", "bank_b": "Bank B", "enterprise": "Ent"}.get(party, "new-person") in listing
    assert "officer-a" not in listing  # the filter works

    [event] = _audit(engine, "user_created")
    assert event.actor == "admin" and event.detail["username"] == "new-person" and event.detail["role"] == role
    assert NEW_PASSWORD not in json.dumps(event.detail)
    assert browser().login("new-person", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"username": ""}, "username", "3 to 100 letters, digits, dots, hyphens, underscores or @."),
    ({"username": "has space"}, "username", "3 to 100 letters, digits, dots, hyphens, underscores or @."),
    ({"username": "ab"}, "username", "3 to 100 letters, digits, dots, hyphens, underscores or @."),
    ({"username": "x" * 101}, "username", "3 to 100 letters, digits, dots, hyphens, underscores or @."),
    ({"username": "名字abc"}, "username", "3 to 100 letters, digits, dots, hyphens, underscores or @."),
    ({"username": None}, "username", "Missing data for required field."),
    ({"display_name": "x" * 201}, "display_name", "At most 200 characters."),
    ({"role": ""}, "role", "Choose a role."),
    ({"role": "king"}, "role", "Choose a role."),
    ({"password": "short", "password_again": "short"}, "password", "At least 10 characters."),
    ({"password": "x" * 201, "password_again": "x" * 201}, "password", "At most 200 characters."),
    ({"password_again": NEW_PASSWORD + "!"}, "password_again", "The two passwords are not the same."),
    ({"password_again": None}, "password_again", "Missing data for required field."),
    ({"role": "officer"}, "institution_id", "Officers and institution admins belong to an institution."),
    ({"role": "institution_admin", "institution_id": "999"}, "institution_id", "No such institution."),
    ({"role": "officer", "institution_id": "abc"}, "institution_id", "Not a valid integer."),
    ({"role": "officer", "institution_id": "99999999999999"}, "institution_id", "No such institution."),
    ({"role": "supervisor", "institution_id": "BANK_A"}, "institution_id",
     "Only officers and institution admins belong to an institution."),
    ({"role": "enterprise"}, "enterprise", "Enterprise users belong to an enterprise."),
    ({"role": "enterprise", "enterprise": "91430100MA4L999999"}, "enterprise",
     "No enterprise has this unified social credit code."),
    ({"role": "system_admin", "enterprise": ENTERPRISE_CODE}, "enterprise",
     "Only enterprise users belong to an enterprise."),
])
def test_a_bad_new_account_is_refused_with_its_message_and_changes_nothing(admin, engine, parties, overrides,
                                                                          field, message):
    if overrides.get("institution_id") == "BANK_A":
        overrides = {**overrides, "institution_id": str(parties.bank_a_id)}
    data = {k: v for k, v in _new_user(**overrides).items() if v is not None}
    before = _state(engine)
    response = admin.post("/admin/users/new", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _shows(body, message), (field, message)
    assert 'name="csrf_token"' in body
    assert NEW_PASSWORD not in body  # passwords are never sent back
    if field != "display_name":
        assert 'value="New Person"' in body  # the rest of the input is kept
    assert _state(engine) == before


@pytest.mark.parametrize("username", ["officer-a", "OFFICER-A"])
def test_a_taken_username_is_refused_in_any_case(admin, engine, username):
    before = _state(engine)
    response = admin.post("/admin/users/new", _new_user(username=username))
    assert response.status_code == 422
    assert _shows(response.get_data(as_text=True), "This username is taken.")
    assert _state(engine) == before


def test_a_deactivated_user_cannot_sign_in_and_their_open_session_ends(admin, browser, engine):
    officer = browser("officer-a")
    assert officer.get("/inbox").status_code == 200
    officer_id = _user_id(engine, "officer-a")

    response = admin.post(f"/admin/users/{officer_id}/deactivate")
    assert response.status_code == 302
    assert _user(engine, "officer-a").active is False
    assert "officer-a can no longer sign in." in admin.get("/admin/users").get_data(as_text=True)

    page = officer.get("/inbox")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert browser().login("officer-a").status_code == 401

    assert admin.post(f"/admin/users/{officer_id}/reactivate").status_code == 302
    assert _user(engine, "officer-a").active is True
    # The old session stays signed out; signing in again works.
    assert officer.get("/inbox").status_code == 302
    assert browser().login("officer-a").status_code == 302
    events = _audit(engine)
    assert [(e.action, e.actor, e.status_before, e.status_after) for e in events[-2:]] == [
        ("user_deactivated", "admin", "active", "inactive"), ("user_reactivated", "admin", "inactive", "active")]
    assert events[-1].detail["username"] == "officer-a"


def test_deactivating_twice_changes_nothing_the_second_time(admin, engine):
    officer_id = _user_id(engine, "officer-a")
    admin.post(f"/admin/users/{officer_id}/deactivate")
    before = _state(engine)
    assert admin.post(f"/admin/users/{officer_id}/deactivate").status_code == 302
    assert _state(engine) == before


def test_a_deactivated_users_api_tokens_stop_working(admin, web_app, engine):
    with engine.transaction() as session:
        user = session.scalars(sa.select(UserAccount).where(UserAccount.username == "supervisor")).one()
        secret, _credential = issue_user_token(session, engine.clock.now(), user)
    api = web_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/applications", headers=headers).status_code == 200

    admin.post(f"/admin/users/{_user_id(engine, 'supervisor')}/deactivate")
    assert api.get("/api/v1/applications", headers=headers).status_code == 401
    with engine.transaction() as session:
        assert authenticate(session, engine.clock.now(), secret) is None
    assert _audit(engine, "user_deactivated")[0].detail["tokens_revoked"] == 1

    admin.post(f"/admin/users/{_user_id(engine, 'supervisor')}/reactivate")
    assert api.get("/api/v1/applications", headers=headers).status_code == 401  # revoked for good


def test_an_admin_cannot_deactivate_themself(admin, engine):
    admin_id = _user_id(engine, "admin")
    assert f"/admin/users/{admin_id}/deactivate" not in admin.get("/admin/users").get_data(as_text=True)
    before = _state(engine)
    response = admin.post(f"/admin/users/{admin_id}/deactivate")
    assert response.status_code == 302
    assert "You cannot deactivate your own account." in admin.get("/admin/users").get_data(as_text=True)
    assert _state(engine) == before
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_another_admin_can_be_deactivated(admin, engine, browser):
    admin.post("/admin/users/new", _new_user(username="admin-2", role="system_admin"))
    other = browser()
    assert other.login("admin-2", NEW_PASSWORD).status_code == 302
    assert admin.post(f"/admin/users/{_user_id(engine, 'admin-2')}/deactivate").status_code == 302
    assert other.get("/admin/users").status_code == 302


def test_a_password_reset_replaces_the_old_password(admin, browser, engine):
    with engine.transaction() as session:
        user = session.scalars(sa.select(UserAccount).where(UserAccount.username == "ent-user")).one()
        secret, _credential = issue_user_token(session, engine.clock.now(), user)
    user_id = _user_id(engine, "ent-user")
    page = admin.get(f"/admin/users/{user_id}/password")
    assert page.status_code == 200 and "ent-user" in page.get_data(as_text=True)
    signed_in = browser("ent-user")
    assert signed_in.get("/my/applications").status_code == 200

    response = admin.post(f"/admin/users/{user_id}/password",
                          {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in.get("/my/applications").status_code == 302  # the reset signed the old session out
    assert browser().login("ent-user", PASSWORD).status_code == 401
    assert browser().login("ent-user", NEW_PASSWORD).status_code == 302
    with engine.transaction() as session:
        assert authenticate(session, engine.clock.now(), secret) is None
    [event] = _audit(engine, "password_reset")
    assert event.actor == "admin" and event.detail["username"] == "ent-user"
    assert NEW_PASSWORD not in json.dumps(event.detail) and PASSWORD not in json.dumps(event.detail)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"password": "short", "password_again": "short"}, "password", "At least 10 characters."),
    ({"password": NEW_PASSWORD, "password_again": "different-password"}, "password_again",
     "The two passwords are not the same."),
    ({"password": NEW_PASSWORD}, "password_again", "Missing data for required field."),
    ({}, "password", "Missing data for required field."),
])
def test_a_bad_password_reset_changes_nothing(admin, browser, engine, data, field, message):
    user_id = _user_id(engine, "ent-user")
    before = _state(engine)
    response = admin.post(f"/admin/users/{user_id}/password", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and _shows(body, message)
    assert NEW_PASSWORD not in body
    assert _state(engine) == before
    assert browser().login("ent-user", PASSWORD).status_code == 302


def test_unknown_accounts_institutions_and_products_are_404(admin, parties):
    assert admin.get("/admin/users/99999/password").status_code == 404
    assert admin.post("/admin/users/99999/password", {"password": NEW_PASSWORD,
                                                      "password_again": NEW_PASSWORD}).status_code == 404
    assert admin.post("/admin/users/99999/deactivate").status_code == 404
    assert admin.post("/admin/users/99999/reactivate").status_code == 404
    assert admin.get("/admin/institutions/99999").status_code == 404
    assert admin.post("/admin/institutions/99999/products", {"code": "X", "name": "X"}).status_code == 404
    assert admin.get("/admin/users/99999999999/password").status_code == 404  # beyond an integer column
    # A product is only reached through its own institution.
    wrong = f"/admin/institutions/{parties.bank_a_id}/products/{parties.product_b_id}/deactivate"
    assert admin.post(wrong).status_code == 404


def test_the_user_list_filters_by_role_and_text(admin):
    officers = admin.get("/admin/users?role=officer").get_data(as_text=True)
    assert "officer-a" in officers and "officer-b" in officers and "ent-user" not in officers
    assert "Bank A" in officers and "Bank B" in officers
    text = admin.get("/admin/users?text=USER").get_data(as_text=True)
    assert "ent-user" in text and "other-user" in text and "officer-a" not in text
    assert "No accounts match." in admin.get("/admin/users?text=%25").get_data(as_text=True)  # % is literal
    assert admin.get("/admin/users?role=king").status_code == 422
    everyone = admin.get("/admin/users").get_data(as_text=True)
    assert all(name in everyone for name in ("ent-user", "officer-a", "supervisor", "author", "admin"))


# --- institutions and products ---------------------------------------------------------------------


def test_admin_creates_an_institution_and_a_product_that_enterprises_can_choose(admin, browser, engine):
    response = admin.post("/admin/institutions", {"code": " BANK-C_1 ", "name": "Bank C"})
    assert response.status_code == 302
    with engine.transaction() as session:
        bank = session.scalars(sa.select(Institution).where(Institution.code == "BANK-C_1")).one()
    assert (bank.name, bank.status) == ("Bank C", "active")
    assert response.headers["Location"].endswith(f"/admin/institutions/{bank.id}")

    response = admin.post(f"/admin/institutions/{bank.id}/products", {"code": "MICRO", "name": "Micro loan"})
    assert response.status_code == 302
    product = scalar(engine, sa.select(LoanProduct).where(LoanProduct.institution_id == bank.id))
    assert (product.code, product.name, product.active) == ("MICRO", "Micro loan", True)
    page = admin.get(f"/admin/institutions/{bank.id}").get_data(as_text=True)
    assert "Micro loan" in page and "Active" in page

    admin.post("/admin/users/new", _new_user(role="officer", institution_id=str(bank.id)))
    listing = admin.get("/admin/institutions").get_data(as_text=True)
    assert "BANK-C_1" in listing and "Bank C" in listing
    row = listing[listing.index("BANK-C_1"):].split("</tr>")[0]
    assert row.count("<td>1</td>") == 2  # one product, one user

    assert "Micro loan" in browser("ent-user").get("/my/applications/new").get_data(as_text=True)
    assert [(e.action, e.actor) for e in _audit(engine)][:2] == [("institution_created", "admin"),
                                                                   ("product_created", "admin")]
    assert _audit(engine, "product_created")[0].detail["code"] == "MICRO"


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"code": "", "name": "Bank C"}, "code", "1 to 50 letters, digits, hyphens or underscores."),
    ({"code": "has space", "name": "Bank C"}, "code", "1 to 50 letters, digits, hyphens or underscores."),
    ({"code": "C" * 51, "name": "Bank C"}, "code", "1 to 50 letters, digits, hyphens or underscores."),
    ({"code": "C.1", "name": "Bank C"}, "code", "1 to 50 letters, digits, hyphens or underscores."),
    ({"code": "C", "name": ""}, "name", "Between 1 and 200 characters."),
    ({"code": "C", "name": "   "}, "name", "Between 1 and 200 characters."),
    ({"code": "C", "name": "x" * 201}, "name", "Between 1 and 200 characters."),
    ({"name": "Bank C"}, "code", "Missing data for required field."),
    ({"code": "a", "name": "Bank C"}, "code", "An institution with this code exists already."),
])
def test_a_bad_institution_is_refused_and_changes_nothing(admin, engine, data, field, message):
    before = _state(engine)
    response = admin.post("/admin/institutions", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and _shows(body, message)
    if data.get("name") and len(data["name"]) < 200 and data["name"].strip():
        assert f'value="{data["name"]}"' in body
    assert _state(engine) == before


@pytest.mark.parametrize(("data", "message"), [
    ({"code": "pa", "name": "Again"}, "This institution has a product with this code already."),
    ({"code": "P A", "name": "Again"}, "1 to 50 letters, digits, hyphens or underscores."),
    ({"code": "NEW", "name": ""}, "Between 1 and 200 characters."),
])
def test_a_bad_product_is_refused_and_changes_nothing(admin, engine, parties, data, message):
    before = _state(engine)
    response = admin.post(f"/admin/institutions/{parties.bank_a_id}/products", data)
    assert response.status_code == 422 and _shows(response.get_data(as_text=True), message)
    assert _state(engine) == before


def test_a_product_code_may_repeat_at_another_institution(admin, engine, parties):
    assert admin.post(f"/admin/institutions/{parties.bank_b_id}/products",
                      {"code": "PA", "name": "B's own PA"}).status_code == 302
    assert _count(engine, LoanProduct) == 3


def test_a_deactivated_product_leaves_the_apply_form(admin, browser, engine, parties):
    enterprise = browser("ent-user")
    assert "Product A" in enterprise.get("/my/applications/new").get_data(as_text=True)
    path = f"/admin/institutions/{parties.bank_a_id}/products/{parties.product_a_id}"

    assert admin.post(f"{path}/deactivate").status_code == 302
    assert scalar(engine, sa.select(LoanProduct.active).where(LoanProduct.id == parties.product_a_id)) is False
    assert "Product A" not in enterprise.get("/my/applications/new").get_data(as_text=True)
    with engine.transaction() as session:
        offered = [p.id for _institution, products in queries.offer(session) for p in products]
    assert parties.product_a_id not in offered and parties.product_b_id in offered
    response = enterprise.post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    assert response.status_code == 422 and _count(engine, LoanApplication) == 0

    assert admin.post(f"{path}/activate").status_code == 302
    assert "Product A" in enterprise.get("/my/applications/new").get_data(as_text=True)
    assert [(e.action, e.actor, e.detail["product_id"]) for e in _audit(engine)] == [
        ("product_deactivated", "admin", parties.product_a_id), ("product_activated", "admin", parties.product_a_id)]


def test_institution_status_is_shown_but_not_changed_by_the_admin(admin, engine, parties):
    with engine.transaction() as session:
        session.get(Institution, parties.bank_b_id).status = "suspended"
    assert "Suspended" in admin.get("/admin/institutions").get_data(as_text=True)
    page = admin.get(f"/admin/institutions/{parties.bank_b_id}").get_data(as_text=True)
    assert "Suspended" in page and 'name="status"' not in page


# --- who may do it ---------------------------------------------------------------------------------


def _admin_routes(web_app, engine, parties):
    values = {"user_id": _user_id(engine, "officer-a"), "institution_id": parties.bank_a_id,
              "product_id": parties.product_a_id}
    forms = {"admin.create_user": _new_user(), "admin.reset_password": {"password": NEW_PASSWORD,
                                                                         "password_again": NEW_PASSWORD},
             "admin.create_institution": {"code": "Z", "name": "Z"}, "admin.add_product": {"code": "Z", "name": "Z"}}
    found = []
    for rule in web_app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.upload_calendar":
            continue
        with web_app.test_request_context():
            path = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path, forms.get(rule.endpoint, {})))
    assert {endpoint for endpoint, *_rest in found} >= {
        "admin.users", "admin.new_user", "admin.create_user", "admin.deactivate_user", "admin.reactivate_user",
        "admin.password_form", "admin.reset_password", "admin.institutions", "admin.create_institution",
        "admin.institution", "admin.add_product", "admin.deactivate_product", "admin.activate_product"}
    return found


@pytest.mark.parametrize("intruder", ["officer-a", "bank-admin-a", "supervisor", "ent-user", "author"])
def test_everyone_but_admins_gets_404(browser, web_app, engine, parties, intruder):
    client = browser(intruder)
    before = _state(engine)
    for endpoint, method, path, form in _admin_routes(web_app, engine, parties):
        response = client.get(path) if method == "GET" else client.post(path, form)
        assert response.status_code == 404, (intruder, endpoint)
    assert _state(engine) == before
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "/admin/users" not in page and "/admin/institutions" not in page


def test_anonymous_users_are_sent_to_sign_in(browser, web_app, engine, parties):
    client = browser()
    # A session with a CSRF token, so that posts get past the CSRF check to the sign-in check.
    client.token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    before = _state(engine)
    for endpoint, method, path, form in _admin_routes(web_app, engine, parties):
        response = client.get(path) if method == "GET" else client.post(path, form)
        assert response.status_code == 302 and "/login" in response.headers["Location"], endpoint
    assert _state(engine) == before


def test_posts_without_a_csrf_token_are_refused(admin, web_app, engine, parties):
    before = _state(engine)
    posts = [(endpoint, path, form) for endpoint, method, path, form in _admin_routes(web_app, engine, parties)
             if method == "POST"]
    assert len(posts) == 8
    for endpoint, path, form in posts:
        assert admin.post(path, form, csrf=False).status_code == 400, endpoint
    assert _state(engine) == before


def test_the_admin_sees_the_new_links(admin):
    page = admin.get("/admin/calendar").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/institutions"' in page


# --- the engine module on its own ----------------------------------------------------------------------


def test_the_password_rule_is_the_same_as_create_users(engine):
    short = "x" * (administration.MIN_PASSWORD_LENGTH - 1)
    with engine.transaction() as session, pytest.raises(ValidationFailed) as refused:
        create_user(session, engine.clock.now(), "short-one", short, "supervisor")
    assert refused.value.errors["password"] == [administration.PASSWORD_RULE]
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "long-one", short + "x", "supervisor")


def test_every_message_of_the_engine_module_is_marked_for_translation():
    marked = {str(message) for message in MESSAGES}
    messages = {value for name, value in vars(administration).items()
                if name.isupper() and isinstance(value, str) and value.endswith(".")}
    assert len(messages) > 15 and messages <= marked
