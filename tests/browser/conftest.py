"""Real Chromium (Debian's package, driven by Playwright) against the app served on a free local port.

The server runs in a thread of the test process and shares the test engine, so a test can move
the controlled clock and run the timer sweep while the browser looks at the pages.
"""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from tests.web.conftest import PASSWORD, web_app  # noqa: F401 - the app with the demo-like accounts

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling home, which this network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(web_app):  # noqa: F811 - the fixture imported above
    server = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def open_page(chromium, live_server):
    """A new browser context (its own cookies) signed in as `username`, in English unless told otherwise."""
    contexts = []

    def open_as(username: str | None = None, lang: str = "en") -> Page:
        context = chromium.new_context(base_url=live_server, locale="zh-CN")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login?lang={lang}")
        if username:
            page.get_by_label("Username" if lang == "en" else "用户名").fill(username)
            page.get_by_label("Password" if lang == "en" else "密码").fill(PASSWORD)
            page.get_by_role("button", name="Sign in" if lang == "en" else "登录").click()
            page.wait_for_load_state()
        return page

    yield open_as
    for context in contexts:
        context.close()
