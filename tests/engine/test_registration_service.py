"""The registration service with its pluggable outside services: phone codes through an SMS sender, the
identity verifier's answer recorded; the shipped defaults refuse phone codes and leave identity for review;
production configuration refuses the test doubles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import config
from engine.models import Enterprise, IdentityCheck, OutboxMessage, PendingRegistration, UserAccount
from engine.platform import registration
from engine.platform.registration.providers import (
    ManualReviewVerifier,
    NoSmsSender,
    TestDoubleIdentityVerifier,
    TestDoubleSmsSender,
)
from engine.workflow.errors import ValidationFailed
from tests.conftest import rows, scalar
from tests.registration_helpers import registration_form


def _settings(**overrides) -> registration.RegistrationSettings:
    values = {"code_key": b"k" * 32, "email_enabled": True}
    values.update(overrides)
    return registration.RegistrationSettings(**values)


def test_a_phone_code_goes_through_the_sms_sender_and_the_identity_verifier_answers(engine):
    sms, verifier = TestDoubleSmsSender(), TestDoubleIdentityVerifier()
    settings = _settings(sms=sms, identity=verifier)
    started = registration.start(engine, settings, registration_form(channel="sms", phone="13800138000", email=""),
                                 language="en", source="203.0.113.9")
    assert started.sms_sent and started.channel == "sms"
    [(phone, code)] = sms.sent
    assert phone == "13800138000"
    assert scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage)) == 0  # no e-mail for a phone
    outcome = registration.verify(engine, settings, started.secret, code)
    assert outcome.status == "completed" and outcome.identity_status == "verified"
    check = rows(engine, sa.select(IdentityCheck))[0][0]
    assert (check.method, check.status, check.reference) == (
        "test_double", "verified", "TEST-DOUBLE-91430100MA4L16XQ39")
    assert scalar(engine, sa.select(Enterprise.contact_phone).where(Enterprise.id == outcome.enterprise_id)) == \
        "13800138000"
    assert scalar(engine, sa.select(UserAccount.email).where(UserAccount.username == "hunan-agri")) is None


def test_the_shipped_defaults_send_no_text_and_leave_identity_to_manual_review(engine):
    settings = _settings()
    assert isinstance(settings.sms, NoSmsSender) and not settings.sms.available
    assert isinstance(settings.identity, ManualReviewVerifier)
    with pytest.raises(ValidationFailed) as refused:
        registration.start(engine, settings, registration_form(channel="sms", phone="13800138000"),
                           language="zh", source="203.0.113.9")
    assert refused.value.problems["channel"] == [("sms_unavailable", {})]
    assert scalar(engine, sa.select(sa.func.count()).select_from(PendingRegistration)) == 0


def test_a_second_registration_of_the_same_code_loses_when_its_code_is_entered(engine):
    settings = _settings(identity=TestDoubleIdentityVerifier())
    first = registration.start(engine, settings, registration_form(), language="zh", source="a")
    second = registration.start(engine, settings, registration_form(username="twin", email="twin@example.cn"),
                                language="zh", source="b")
    codes = [message["code"] for (message,) in rows(engine, sa.select(OutboxMessage.payload).order_by(
        OutboxMessage.id))]
    assert registration.verify(engine, settings, first.secret, codes[0]).status == "completed"
    assert registration.verify(engine, settings, second.secret, codes[1]).status == "duplicate"
    assert scalar(engine, sa.select(sa.func.count()).select_from(UserAccount)) == 1


def test_codes_are_stored_as_keyed_hashes_only(engine):
    settings = _settings()
    started = registration.start(engine, settings, registration_form(), language="zh", source="a")
    code = scalar(engine, sa.select(OutboxMessage.payload))["code"]
    stored = rows(engine, sa.select(PendingRegistration))[0][0]
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    other_key = _settings(code_key=b"x" * 32)
    assert registration.verify(engine, other_key, started.secret, code).status == "wrong"


@pytest.mark.parametrize("name", ["SMS_SENDER", "IDENTITY_VERIFIER"])
def test_production_refuses_a_test_double(monkeypatch, name):
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setattr(config.ProductionConfig, "DATABASE_URL", "postgresql+psycopg://x@localhost/y")
    monkeypatch.setattr(config.ProductionConfig, "LOAD_DEMO_DATA", False)
    monkeypatch.setattr(config.ProductionConfig, "PERSONAL_DATA_KEYS", "a2tr" * 10 + "a2s=")  # 32 bytes each
    monkeypatch.setattr(config.ProductionConfig, "PERSONAL_DATA_HASH_KEY", "aGho" * 10 + "aGg=")
    config.ProductionConfig.validate()  # the shipped defaults pass
    monkeypatch.setattr(config.ProductionConfig, name, "test_double")
    with pytest.raises(config.ConfigError, match="test double"):
        config.ProductionConfig.validate()
    config.TestingConfig.validate()  # allowed outside production


def test_an_unknown_provider_is_refused_at_start_up(monkeypatch):
    monkeypatch.setattr(config.Config, "SMS_SENDER", "aliyun")
    with pytest.raises(config.ConfigError, match="SMS_SENDER"):
        config.Config.validate()


def test_housekeeping_purges_registrations_a_day_after_they_started(engine, clock):
    from engine.platform.housekeeping import purge_expired

    registration.start(engine, _settings(), registration_form(), language="zh", source="a")
    clock.advance(hours=23)
    assert purge_expired(engine).registrations == 0
    clock.advance(hours=1, seconds=1)
    assert purge_expired(engine).registrations == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(PendingRegistration)) == 0
