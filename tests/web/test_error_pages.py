"""Every web error is the site's own HTML page in Chinese (the default language), never JSON or English:
each refusal of the access matrix, a missing CSRF token, NUL characters, an oversized body, a wrong method,
a closed case's 403, an unexpected failure (500); the API keeps its JSON errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.models import TaskRow
from tests.conftest import scalar
from tests.web.test_access_matrix import FORMS, USERS, _audience, _routes
from tests.web.test_access_matrix import reference as reference  # noqa: F401 - the fixture

NOT_FOUND_ZH, BAD_REQUEST_ZH, FAILURE_ZH = "您访问的页面不存在。", "无法处理该请求。", "系统出现问题，请稍后再试。"
ENGLISH = ("does not exist", "could not be handled", "Something went wrong", "Back to the start page")


def assert_chinese_error_page(response, status: int, text: str | None = None) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, (status, response.status_code, body[:200])
    assert response.mimetype == "text/html", response.mimetype
    assert '<html lang="zh-CN">' in body
    assert "返回首页" in body and not any(english in body for english in ENGLISH), body
    if text is not None:
        assert text in body


def test_every_refusal_of_the_access_matrix_is_the_chinese_error_page(browser, web_app, reference, engine):  # noqa: F811
    task_id = scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open"))
    clients = {user: browser(user) for user in USERS}
    checked = 0
    for endpoint, method, path in _routes(web_app, reference, task_id):
        for user, client in clients.items():
            if user in _audience(endpoint):
                continue
            response = client.get(path) if method == "GET" else client.post(path, FORMS.get(endpoint, {}))
            assert_chinese_error_page(response, 404, NOT_FOUND_ZH)
            checked += 1
    assert checked > 50


def test_a_missing_csrf_token_nul_characters_and_a_wrong_method_are_chinese_pages(browser, reference):  # noqa: F811
    enterprise = browser("ent-user")
    assert_chinese_error_page(enterprise.post(f"/my/applications/{reference}/withdraw", {}, csrf=False), 400,
                              BAD_REQUEST_ZH)
    assert_chinese_error_page(enterprise.post("/my/profile", {"legal_representative": "a\x00b"}), 400,
                              BAD_REQUEST_ZH)
    assert_chinese_error_page(enterprise.client.put("/my/profile"), 405, BAD_REQUEST_ZH)
    assert_chinese_error_page(enterprise.get("/no/such/page"), 404, NOT_FOUND_ZH)
    assert_chinese_error_page(browser().get("/no/such/page"), 404, NOT_FOUND_ZH)  # signed out as well


def test_an_oversized_body_is_a_chinese_page(browser, web_app):
    enterprise = browser("ent-user")
    body = "x" * (web_app.config["MAX_CONTENT_LENGTH"] + 1)
    response = enterprise.client.post("/my/profile", data=body, content_type="application/x-www-form-urlencoded")
    assert_chinese_error_page(response, 413, BAD_REQUEST_ZH)


def test_an_unexpected_failure_is_a_chinese_page_and_the_api_keeps_json(browser, web_app, monkeypatch):
    from web import enterprise_data

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(enterprise_data.own_data, "own_data", broken)
    web_app.config["PROPAGATE_EXCEPTIONS"] = False
    assert_chinese_error_page(browser("ent-user").get("/my/data"), 500, FAILURE_ZH)
    api = web_app.test_client().get("/api/v1/applications", headers={"Authorization": "Bearer nothing"})
    assert api.status_code == 401 and api.is_json


@pytest.mark.parametrize("lang", ["en"])
def test_the_english_interface_gets_the_english_page(browser, lang):
    client = browser("ent-user")
    client.get(f"/my/profile?lang={lang}")
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert '<html lang="en">' in response.get_data(as_text=True)
    assert "The page you asked for does not exist." in response.get_data(as_text=True)
