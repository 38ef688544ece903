"""Real Chromium (Debian's package, driven by Playwright) against the app served on a free local port.

The server runs in a thread of the test process and shares the test engine (SQLite in the test's
tmp dir, or PostgreSQL with DATABASE_URL), so a test can move the controlled clock and run the
timer sweep while the browser looks at the pages. One Chromium serves every browser test; each
test opens new contexts (own cookies), one per person.
"""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests.web.conftest import PASSWORD, web_app  # noqa: F401 - the app with the demo-like accounts

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own download does not work here
# Without the background-networking flags Chromium keeps calling home, which this network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 10_000


# Package scope: the sync API keeps its event loop marked as running in this thread while Playwright
# is up, so it must stop when the browser tests end, before any other test could want asyncio.
@pytest.fixture(scope="package")
def chromium() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(web_app):  # noqa: F811 - the fixture imported above
    """The app on a free port of 127.0.0.1, served by werkzeug in a background thread."""
    server = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, in whichever language the page shows."""
    page.goto("/login")
    english = page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Username" if english else "用户名").fill(username)
    page.get_by_label("Password" if english else "密码").fill(password)
    page.get_by_role("button", name="Sign in" if english else "登录").click()
    expect(page.get_by_role("button", name="Sign out" if english else "退出")).to_be_visible()


@pytest.fixture
def open_page(chromium, live_server):
    """`open_page(username, lang)`: a page in a new browser context, signed in unless no username is given.

    The language is chosen once with `?lang=` (kept in the session), English unless told otherwise.
    """
    contexts = []
    problems: list[str] = []  # script errors and Content-Security-Policy refusals, on any page

    def open_as(username: str | None = None, lang: str = "en") -> Page:
        context = chromium.new_context(base_url=live_server, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on("console", lambda message: problems.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.goto(f"/login?lang={lang}")
        if username:
            login(page, username)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert problems == [], "the pages raised script errors or broke the Content-Security-Policy"
