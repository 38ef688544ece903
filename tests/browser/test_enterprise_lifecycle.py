"""In Chromium, the whole of issue 11's story: an enterprise registers (the e-mailed code from a real SMTP
server), keeps its contact data, authorizes and applies; the bank reads, reveals and accepts; the enterprise
sees the bank's reads in its access log, withdraws, revokes the authorization, and the bank's reveal is then
refused (and that refusal is in the log too). The contact data stay encrypted in the database throughout."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from engine.loans.actors import OFFICER
from engine.platform.access import create_user
from engine.platform.registration.codes import credit_code_check_character
from notifications.delivery import deliver_due
from notifications.settings import delivery_settings
from tests.conftest import rows
from tests.registration_helpers import mailbox  # noqa: F401 - the fixture
from tests.web.conftest import PASSWORD
from web import create_app

PHONE, MASKED_PHONE, ID_NUMBER = "13912345678", "139****5678", "11010519491231002X"
CREDIT_CODE = "91430100MA4L2Y5K8" + credit_code_check_character("91430100MA4L2Y5K8")


@pytest.fixture
def web_app(engine, database_url, parties, mailbox):  # noqa: F811 - replaces the shared app: this one sends mail
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": mailbox.port}, engine=engine)
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "officer-a", PASSWORD, OFFICER, institution_id=parties.bank_a_id)
    return app


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _register(page: Page, engine, web_app, mailbox) -> None:  # noqa: F811
    """Register 星辰科技 with its first user `xingchen`, confirm with the e-mailed code, sign in."""
    page.get_by_role("link", name="首次使用平台？企业注册").click()
    page.get_by_label("主体类型").select_option(value="enterprise")
    page.get_by_label("统一社会信用代码").fill(CREDIT_CODE)
    page.get_by_label("名称（与登记一致）").fill("长沙星辰科技有限公司")
    page.get_by_label("法定代表人或经营者").fill("李四")
    page.get_by_label("所在地区").select_option(label="430100 长沙市")
    page.get_by_label("所属行业（GB/T 4754 门类）").select_option(value="I")
    page.get_by_label("企业规模").select_option(label="小型")
    page.get_by_label("用户名").fill("xingchen")
    page.get_by_label("您的姓名").fill("李四")
    page.locator("input[name=email]").fill("li.si@example.cn")
    page.get_by_label("密码（至少 10 个字符）").fill("a-long-password-1")
    page.get_by_label("再次输入密码").fill("a-long-password-1")
    page.get_by_label("本人已阅读上述信用承诺书并同意作出承诺。").check()
    page.get_by_role("button", name="注册并发送验证码").click()
    expect(_heading(page)).to_have_text("输入验证码")
    deliver_due(engine, delivery_settings(web_app.config))
    page.get_by_label("验证码").fill(mailbox.last_code("li.si@example.cn"))
    page.get_by_role("button", name="确认并创建账号").click()
    expect(page.get_by_role("status").first).to_have_text("注册成功。请以 xingchen 登录后申请贷款。")
    page.get_by_label("用户名").fill("xingchen")
    page.get_by_label("密码").fill("a-long-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()


def test_registered_enterprise_applies_sees_the_banks_reads_revokes_and_the_reveal_is_refused(
        open_page, web_app, engine, mailbox):  # noqa: F811
    enterprise = open_page(lang="zh")
    _register(enterprise, engine, web_app, mailbox)

    enterprise.goto("/my/profile?lang=en")  # the rest in English, as the officer reads it
    enterprise.get_by_label("Legal representative").fill("李四")
    enterprise.get_by_label("ID number").fill(ID_NUMBER)
    enterprise.get_by_label("Contact phone").fill(PHONE)
    enterprise.get_by_role("button", name="Save").click()
    stored = rows(engine, sa.text("SELECT representative_id_number, contact_phone FROM enterprise "
                                  f"WHERE credit_code = '{CREDIT_CODE}'"))
    assert len(stored) == 1 and PHONE not in repr(stored) and ID_NUMBER not in repr(stored)

    enterprise.goto("/my/applications/new")
    expect(enterprise.get_by_role("region", name="Risk notice")).to_contain_text("You can revoke it at any time")
    enterprise.get_by_label("Institution and product").select_option(label="Product A")
    enterprise.get_by_label("Amount (yuan)").fill("300000.00")
    enterprise.get_by_label("Purpose").fill("Equipment")
    enterprise.get_by_label("I have read the risk notice and I authorize the query").check()
    enterprise.get_by_role("button", name="Submit the application").click()
    expect(_heading(enterprise)).to_have_text(re.compile(r"^\S+ — Submitted$"))
    reference = _heading(enterprise).inner_text().split(" — ")[0]

    officer = open_page("officer-a")
    officer.goto(f"/inbox/{reference}")
    expect(officer.get_by_text(MASKED_PHONE)).to_be_visible()
    officer.get_by_role("button", name="Show the contact data in full (this is recorded)").click()
    expect(officer.get_by_text(PHONE)).to_be_visible()  # decrypted for the handling bank while authorized
    officer.get_by_role("row", name=re.compile("Accept")).get_by_role("link", name="Open the task").click()
    officer.get_by_label("Note").fill("Documents complete")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Accepted")
    officer.goto(f"/inbox/{reference}")  # open again before the enterprise withdraws: the reveal offered
    reveal = officer.get_by_role("button", name="Show the contact data in full (this is recorded)")
    expect(reveal).to_be_visible()

    enterprise.goto("/my/data")
    log = enterprise.locator("#access-log")
    expect(log).to_contain_text("Bank A")
    expect(log.locator("tr[data-kind=reads]")).to_contain_text(re.compile(r"Read the application record \d+ times"))
    expect(log.locator("tr[data-kind=revealed]")).to_contain_text("Showed the contact data in full")
    expect(log).not_to_contain_text("officer-a")  # the institution, never the person

    enterprise.goto(f"/my/applications/{reference}")
    enterprise.get_by_role("button", name="Withdraw the application").click()
    expect(enterprise.get_by_text("Your application was withdrawn.")).to_be_visible()
    expect(_heading(enterprise)).to_have_text(f"{reference} — Withdrawn")
    enterprise.get_by_role("link", name="Revoke this authorization").click()
    enterprise.get_by_role("button", name="Revoke the authorization").click()
    expect(enterprise.get_by_text(f"The authorization of application {reference} is revoked")).to_be_visible()

    reveal.click()
    expect(officer.get_by_role("alert")).to_contain_text("The contact data cannot be shown in full")
    expect(officer.get_by_text(PHONE)).to_have_count(0)
    expect(officer.get_by_text(MASKED_PHONE)).to_be_visible()

    enterprise.goto("/my/data")
    expect(enterprise.locator("#authorizations")).to_contain_text("Revoked")
    expect(enterprise.locator("#access-log")).to_contain_text("Refused: showing the contact data in full")
