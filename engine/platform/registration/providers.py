"""Pluggable outside services of registration: an SMS sender for phone codes and an identity
verifier (电子营业执照 / face check). None is bundled with a real provider.

What ships: `NoSmsSender` (phone codes are not offered; the page says so) and
`ManualReviewVerifier` (every registration waits for an administrator's manual review). The
`TestDouble…` classes exist for tests and demonstrations only: they send nothing and check nothing,
are marked `test_double` wherever they leave a trace, and production configuration refuses them.
A real provider implements the same protocol and is named in config.py (`SMS_SENDER`,
`IDENTITY_VERIFIER`) through `sms_sender_named` / `identity_verifier_named`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

NO_SMS, TEST_DOUBLE, MANUAL_REVIEW = "none", "test_double", "manual_review"
PENDING, VERIFIED, REFUSED = "pending", "verified", "refused"


class SmsUnavailable(Exception):
    """No SMS provider is configured, or it did not take the message."""


class SmsSender(Protocol):
    name: str
    available: bool

    def send_code(self, phone: str, code: str, minutes: int) -> None:
        """Hand a verification code to the provider (Chinese providers fill their own registered template
        with the code and its validity); raise SmsUnavailable if it did not take it."""


@dataclass
class NoSmsSender:
    """The shipped default: no SMS provider; phone codes are refused rather than pretended."""

    name: str = NO_SMS
    available: bool = False

    def send_code(self, phone: str, code: str, minutes: int) -> None:
        raise SmsUnavailable("No SMS provider is configured (SMS_SENDER=none)")


@dataclass
class TestDoubleSmsSender:
    """TEST DOUBLE: keeps the messages in memory instead of sending them. Never for production."""

    __test__ = False  # not a pytest test class

    name: str = TEST_DOUBLE
    available: bool = True
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send_code(self, phone: str, code: str, minutes: int) -> None:
        self.sent.append((phone, code))


@dataclass(frozen=True)
class IdentitySubject:
    credit_code: str
    name: str
    legal_representative: str


@dataclass(frozen=True)
class IdentityAnswer:
    status: str  # pending | verified | refused
    reference: str | None = None


class IdentityVerifier(Protocol):
    name: str

    def check(self, subject: IdentitySubject) -> IdentityAnswer:
        """Check the enterprise's real name; answer at once (`pending` when the answer comes later)."""


@dataclass
class ManualReviewVerifier:
    """The shipped default: no automatic check; an administrator reviews the registration by hand."""

    name: str = MANUAL_REVIEW

    def check(self, subject: IdentitySubject) -> IdentityAnswer:
        return IdentityAnswer(PENDING)


@dataclass
class TestDoubleIdentityVerifier:
    """TEST DOUBLE: answers `verified` without checking anything. Never for production."""

    __test__ = False  # not a pytest test class

    name: str = TEST_DOUBLE

    def check(self, subject: IdentitySubject) -> IdentityAnswer:
        return IdentityAnswer(VERIFIED, reference=f"TEST-DOUBLE-{subject.credit_code}")


SMS_SENDERS: dict[str, Callable[[], SmsSender]] = {NO_SMS: NoSmsSender, TEST_DOUBLE: TestDoubleSmsSender}
IDENTITY_VERIFIERS: dict[str, Callable[[], IdentityVerifier]] = {
    MANUAL_REVIEW: ManualReviewVerifier, TEST_DOUBLE: TestDoubleIdentityVerifier}


def sms_sender_named(name: str) -> SmsSender:
    return SMS_SENDERS[name]()


def identity_verifier_named(name: str) -> IdentityVerifier:
    return IDENTITY_VERIFIERS[name]()
