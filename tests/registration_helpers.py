"""Shared by the registration tests: a real SMTP server (aiosmtpd), a valid form, the code from the mail."""

from __future__ import annotations

import email
import email.policy
import re
import socket

import pytest
from aiosmtpd.controller import Controller

# Published codes (GB 32100 check characters verified): 深圳市腾讯计算机系统有限公司, 阿里巴巴（中国）有限公司,
# 华为技术有限公司, 小米科技有限责任公司.
PUBLISHED_CODES = ["91440300708461136T", "91330100716105852F", "914403001922038216", "91110108551385082Q"]
CODE_IN_MAIL = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        return [(envelope.rcpt_tos, email.message_from_bytes(envelope.original_content, policy=email.policy.default))
                for envelope in self.envelopes]

    def last_code(self, to: str) -> str:
        for rcpt, message in reversed(self.messages()):
            if to in rcpt:
                return CODE_IN_MAIL.search(message.get_content()).group(1)
        raise AssertionError(f"no mail to {to}")


@pytest.fixture
def mailbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


def registration_form(**overrides: str) -> dict[str, str]:
    """A complete, valid registration of 湖南某某农业科技有限公司 (code with a correct check character)."""
    form = {
        "applicant_kind": "enterprise", "credit_code": "91430100MA4L16XQ39", "name": "湖南示范农业科技有限公司",
        "legal_representative": "张三", "region_choice": "430100", "region_other": "", "region_code": "430100",
        "industry_section": "A",
        "size_class": "small", "username": "hunan-agri", "display_name": "李四", "channel": "email",
        "email": "li.si@example.cn", "password": "a-long-password-1", "password_again": "a-long-password-1",
        "accept_commitment": "yes", "commitment_version": "2026-11-v1",
    }
    form.update(overrides)
    return form
