"""In real Chromium: the registration form answers mistakes in Chinese beside each field, keeps what was
typed (never the passwords), and a corrected form with the e-mailed code makes an account that signs in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.loans.actors import ENTERPRISE
from engine.models import Enterprise, UserAccount
from engine.platform.access import create_user
from notifications.delivery import deliver_due
from notifications.settings import delivery_settings
from tests.conftest import scalar
from tests.registration_helpers import mailbox  # noqa: F401 - the fixture
from tests.web.conftest import PASSWORD
from web import create_app


@pytest.fixture
def web_app(engine, database_url, parties, mailbox):  # noqa: F811 - replaces the shared app: this one sends mail
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": mailbox.port}, engine=engine)
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "ent-user", PASSWORD, ENTERPRISE,
                    enterprise_id=parties.enterprise.enterprise_id)
    return app


def test_registration_errors_in_chinese_keep_the_input_and_the_code_completes_it(
        open_page, web_app, engine, mailbox):  # noqa: F811
    page = open_page(lang="zh")
    page.get_by_role("link", name="首次使用平台？企业注册").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("企业注册")
    expect(page.locator("#commitment")).to_contain_text("信用承诺书")
    page.get_by_label("主体类型").select_option(label="个体工商户")
    page.get_by_label("统一社会信用代码").fill("92430100MA4L16XQ3A")  # wrong check character
    page.get_by_label("名称（与登记一致）").fill("长沙市示范小吃店")
    page.get_by_label("法定代表人或经营者").fill("孙八")
    page.get_by_label("所在地区").select_option(value="other")
    page.get_by_label("行政区划代码（六位数字，选择其他地区时填写）").fill("990100")
    page.get_by_label("所属行业（GB/T 4754 门类）").select_option(value="H")
    page.get_by_label("企业规模").select_option(label="微型")
    page.get_by_label("用户名").fill("xiaochi")
    page.get_by_label("您的姓名").fill("孙八")
    page.locator("input[name=email]").fill("sun.ba@example.cn")
    page.get_by_label("密码（至少 10 个字符）").fill("a-long-password-1")
    page.get_by_label("再次输入密码").fill("a-long-password-2")
    page.get_by_role("button", name="注册并发送验证码").click()

    alerts = page.get_by_role("alert")
    expect(alerts.filter(has_text="最后一位不是该代码的校验码")).to_have_count(1)
    expect(alerts.filter(has_text="不存在以该两位数字开头的省级行政区划")).to_have_count(1)
    expect(alerts.filter(has_text="两次输入的密码不一致")).to_have_count(1)
    expect(alerts.filter(has_text="注册须接受信用承诺")).to_have_count(1)
    expect(page.get_by_label("统一社会信用代码")).to_have_value("92430100MA4L16XQ3A")
    expect(page.get_by_label("名称（与登记一致）")).to_have_value("长沙市示范小吃店")
    expect(page.get_by_label("主体类型")).to_have_value("individual_business")
    expect(page.get_by_label("所在地区")).to_have_value("other")
    expect(page.get_by_label("行政区划代码（六位数字，选择其他地区时填写）")).to_have_value("990100")
    expect(page.get_by_label("所属行业（GB/T 4754 门类）")).to_have_value("H")
    expect(page.get_by_label("用户名")).to_have_value("xiaochi")
    expect(page.get_by_label("密码（至少 10 个字符）")).to_have_value("")  # never sent back
    assert scalar(engine, sa.select(sa.func.count()).select_from(Enterprise)) == 2

    from engine.platform.registration.codes import credit_code_check_character

    code = "92430100MA4L16XQ3" + credit_code_check_character("92430100MA4L16XQ3")
    page.get_by_label("统一社会信用代码").fill(code)
    page.get_by_label("所在地区").select_option(label="430100 长沙市")
    page.get_by_label("密码（至少 10 个字符）").fill("a-long-password-1")
    page.get_by_label("再次输入密码").fill("a-long-password-1")
    page.get_by_label("本人已阅读上述信用承诺书并同意作出承诺。").check()
    page.get_by_role("button", name="注册并发送验证码").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("输入验证码")
    expect(page.get_by_text("验证码已发送至电子邮箱 su***@example.cn")).to_be_visible()

    deliver_due(engine, delivery_settings(web_app.config))
    page.get_by_label("验证码").fill(mailbox.last_code("sun.ba@example.cn"))
    page.get_by_role("button", name="确认并创建账号").click()
    expect(page.get_by_role("status").first).to_have_text("注册成功。请以 xiaochi 登录后申请贷款。")
    assert scalar(engine, sa.select(UserAccount.role).where(UserAccount.username == "xiaochi")) == "enterprise"

    page.get_by_label("用户名").fill("xiaochi")
    page.get_by_label("密码").fill("a-long-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.get_by_role("link", name="我的申请")).to_be_visible()
