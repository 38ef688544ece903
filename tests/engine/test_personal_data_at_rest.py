"""ID and phone numbers at rest: ciphertexts in the database, plaintext through the ORM, lookups by keyed
hash, rotation to a new key, refusal of a production start-up without keys or with data no key opens."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import sqlalchemy as sa

import config
from engine.models import Enterprise, PendingRegistration
from engine.platform import admin_records, personal_data
from engine.workflow import encryption
from engine.workflow.encryption import Keyring, UndecryptableValue, key_id
from tests.conftest import rows

ID_NUMBER, PHONE = "430102198001011233", "13800138000"
KEY_A, KEY_B, HASH_A, HASH_B = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3, 4))


@pytest.fixture
def keys():
    """Install keyrings for a test and put the suite's back afterwards."""
    before = encryption.installed()

    def _install(keys: str, hash_key: str) -> Keyring:
        return personal_data.install_from_settings(keys, hash_key, None)
    yield _install
    encryption.install(before)


def _enterprise(engine, credit_code="91430100MA4L000001", **fields) -> int:
    with engine.transaction() as session:
        enterprise = Enterprise(name="Ent", credit_code=credit_code, **fields)
        session.add(enterprise)
        session.flush()
        return enterprise.id


def _raw(engine, sql: str) -> list:
    return rows(engine, sa.text(sql))


def test_the_database_holds_ciphertexts_and_the_orm_gives_the_numbers_back(engine):
    enterprise_id = _enterprise(engine, representative_id_number=ID_NUMBER, contact_phone=PHONE)
    stored = _raw(engine, "SELECT representative_id_number, contact_phone, representative_id_number_hash, "
                          "contact_phone_hash FROM enterprise")
    dump = repr(stored)
    assert ID_NUMBER not in dump and PHONE not in dump and "5678" not in dump
    assert all(value.startswith(f"pd1:{encryption.installed().current_id}:") for value in stored[0][:2])
    with engine.reading() as session:
        enterprise = session.get(Enterprise, enterprise_id)
        assert (enterprise.representative_id_number, enterprise.contact_phone) == (ID_NUMBER, PHONE)


def test_the_same_number_encrypts_differently_each_time_but_hashes_the_same(engine):
    _enterprise(engine, contact_phone=PHONE)
    _enterprise(engine, credit_code="91430100MA4L000002", contact_phone=PHONE)
    (first, first_hash), (second, second_hash) = _raw(engine, "SELECT contact_phone, contact_phone_hash "
                                                              "FROM enterprise ORDER BY id")
    assert first != second and first_hash == second_hash


def test_a_ciphertext_moved_to_another_column_does_not_open():
    keyring = encryption.installed()
    sealed = keyring.encrypt(PHONE, "enterprise.contact_phone")
    assert keyring.decrypt(sealed, "enterprise.contact_phone") == PHONE
    with pytest.raises(UndecryptableValue):
        keyring.decrypt(sealed, "enterprise.representative_id_number")
    with pytest.raises(UndecryptableValue, match="not a ciphertext"):
        keyring.decrypt(PHONE, "enterprise.contact_phone")


def test_admins_find_an_enterprise_by_its_phone_or_id_number(engine):
    wanted = _enterprise(engine, representative_id_number=ID_NUMBER, contact_phone="0731-88881234")
    _enterprise(engine, credit_code="91430100MA4L000002", contact_phone="13900139000")
    with engine.reading() as session:
        for text in (ID_NUMBER, f" {ID_NUMBER} ", " 0731 88881234", "073188881234"):
            found, total = admin_records.list_enterprises(session, text)
            assert [enterprise.id for enterprise in found] == [wanted] and total == 1, text
        assert admin_records.list_enterprises(session, "138")[1] == 0  # exact numbers only, never parts


def test_an_updated_number_gets_a_new_hash(engine):
    enterprise_id = _enterprise(engine, contact_phone=PHONE)
    with engine.transaction() as session:
        session.get(Enterprise, enterprise_id).contact_phone = "13900139000"
    with engine.reading() as session:
        assert admin_records.list_enterprises(session, "13900139000")[1] == 1
        assert admin_records.list_enterprises(session, PHONE)[1] == 0


def test_rotation_reencrypts_every_row_and_old_keys_decrypt_until_retired(engine, keys):
    keys(KEY_A, HASH_A)
    ids = [_enterprise(engine, credit_code=f"91430100MA4L00000{n}", representative_id_number=ID_NUMBER,
                       contact_phone=PHONE) for n in range(1, 6)]
    key_a = key_id(base64.urlsafe_b64decode(KEY_A))
    keyring = keys(f"{KEY_B},{KEY_A}", HASH_A)  # a new key first: it encrypts, the old one still decrypts
    with engine.reading() as session:
        assert session.get(Enterprise, ids[0]).contact_phone == PHONE
        assert personal_data.keys_in_use(session)["enterprise.contact_phone"] == {key_a}
        assert personal_data.remaining(session)["enterprise.contact_phone"] == 5
        assert personal_data.unreadable(session) == []
    seen = []
    assert personal_data.rotate(engine, batch_size=2, progress=seen.append) == 10
    assert [(step.column, step.done, step.remaining) for step in seen][:3] == [
        ("enterprise.representative_id_number", 2, 3), ("enterprise.representative_id_number", 4, 1),
        ("enterprise.representative_id_number", 5, 0)]
    stored = _raw(engine, "SELECT representative_id_number, contact_phone FROM enterprise")
    assert all(value.startswith(f"pd1:{keyring.current_id}:") for row in stored for value in row)
    assert personal_data.rotate(engine) == 0  # nothing left: a rerun is a no-op
    keys(KEY_B, HASH_A)  # the old key retired
    with engine.reading() as session:
        assert [session.get(Enterprise, i).representative_id_number for i in ids] == [ID_NUMBER] * 5
    keys(KEY_A, HASH_A)  # a keyring without the key the data are under
    with engine.reading() as session:
        assert personal_data.unreadable(session) == [f"enterprise.representative_id_number (key {keyring.current_id})",
                                                     f"enterprise.contact_phone (key {keyring.current_id})"]
        with pytest.raises(UndecryptableValue, match="no longer holds"):
            session.get(Enterprise, ids[0])


def test_an_interrupted_rotation_resumes_where_it_stopped(engine, keys):
    keys(KEY_A, HASH_A)
    for n in range(1, 5):
        _enterprise(engine, credit_code=f"91430100MA4L00000{n}", contact_phone=PHONE)
    keys(f"{KEY_B},{KEY_A}", HASH_A)

    def stop_after_first_batch(step):
        if step.done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        personal_data.rotate(engine, batch_size=3, progress=stop_after_first_batch)
    with engine.reading() as session:
        assert personal_data.remaining(session)["enterprise.contact_phone"] == 1
    assert personal_data.rotate(engine, batch_size=3) == 1


def test_a_new_hash_key_rehashes_and_lookups_find_again(engine, keys):
    keys(KEY_A, HASH_A)
    _enterprise(engine, contact_phone=PHONE)
    keys(KEY_A, HASH_B)
    with engine.reading() as session:
        assert admin_records.list_enterprises(session, PHONE)[1] == 0
        assert personal_data.remaining(session)["enterprise.contact_phone"] == 1
    assert personal_data.rotate(engine) == 1
    with engine.reading() as session:
        assert admin_records.list_enterprises(session, PHONE)[1] == 1


def test_registration_contacts_are_encrypted_and_counted_by_hash(engine, clock):
    now = clock.now()
    with engine.transaction() as session:
        for n in range(2):
            session.add(PendingRegistration(
                secret_hash=f"{n:064d}", status="pending", applicant_kind="enterprise",
                credit_code="91430100MA4L000001", name="Ent", legal_representative="王建国", region_code="430102",
                industry_section="C", size_class="small", username=f"u{n}", display_name="U", channel="sms",
                address=PHONE, password_hash="x", commitment_version="v", commitment_language="zh",
                commitment_sha256="0" * 64, code_hash="", code_expires_at=now + timedelta(minutes=10),
                code_sent_at=now, source="127.0.0.1", created_at=now))
    assert PHONE not in repr(_raw(engine, "SELECT address, address_hash FROM pending_registration"))
    with engine.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).where(
            PendingRegistration.address_hash == encryption.lookup_hash("contact", PHONE))) == 2
        assert {row.address for row in session.scalars(sa.select(PendingRegistration))} == {PHONE}


def test_keys_come_from_the_settings_newest_first(keys):
    keyring = keys(f" {KEY_B} , {KEY_A} ", HASH_A)
    assert keyring.key_ids == tuple(key_id(base64.urlsafe_b64decode(k)) for k in (KEY_B, KEY_A))
    assert not keyring.derived
    derived = personal_data.keyring_from_settings("", "", "a secret")
    assert derived.derived and derived == personal_data.keyring_from_settings("", "", "a secret")
    assert derived.keys != personal_data.keyring_from_settings("", "", "another secret").keys
    for bad in (("short", HASH_A), (KEY_A, ""), (KEY_A, KEY_A), ("", HASH_A)):
        with pytest.raises(ValueError):
            personal_data.keyring_from_settings(*bad, "a secret")
    with pytest.raises(ValueError, match="must be set"):
        personal_data.keyring_from_settings("", "", None)  # production: no derived keys


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setattr(config.ProductionConfig, "DATABASE_URL", "postgresql+psycopg://x@localhost/y")
    monkeypatch.setattr(config.ProductionConfig, "LOAD_DEMO_DATA", False)
    monkeypatch.setattr(config.ProductionConfig, "PERSONAL_DATA_KEYS", KEY_A)
    monkeypatch.setattr(config.ProductionConfig, "PERSONAL_DATA_HASH_KEY", HASH_A)
    config.ProductionConfig.validate()
    return monkeypatch


@pytest.mark.parametrize(("keys_value", "hash_value", "message"), [
    ("", "", "must be set in production"),
    ("", HASH_A, "must be set together"),
    ("not-a-key", HASH_A, r"PERSONAL_DATA_KEYS\[0\] must be URL-safe base64 of 32"),
    (f"{KEY_A},{base64.urlsafe_b64encode(b'x' * 16).decode()}", HASH_A, r"PERSONAL_DATA_KEYS\[1\]"),
    (f"{KEY_A},{KEY_A}", HASH_A, "twice"),
    (KEY_A, KEY_A, "repeats an encryption key"),
])
def test_production_refuses_to_start_without_good_keys(production, keys_value, hash_value, message):
    production.setattr(config.ProductionConfig, "PERSONAL_DATA_KEYS", keys_value)
    production.setattr(config.ProductionConfig, "PERSONAL_DATA_HASH_KEY", hash_value)
    with pytest.raises(config.ConfigError, match=message):
        config.ProductionConfig.validate()
    assert config.ProductionConfig.personal_data_fallback_secret() is None
    assert config.TestingConfig.personal_data_fallback_secret() == "testing-only-secret"


def test_names_and_email_addresses_are_ciphertexts_in_the_database_too(engine):
    from engine.models import UserAccount
    from engine.platform.access import create_user

    enterprise_id = _enterprise(engine, legal_representative="王建国")
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "ent-wang", "long-enough-password", "enterprise",
                    enterprise_id=enterprise_id).email = "wang@example.cn"
    dump = repr(_raw(engine, "SELECT legal_representative FROM enterprise")
                + _raw(engine, "SELECT email FROM user_account"))
    assert "王建国" not in dump and "wang@example" not in dump and dump.count("pd1:") == 2
    with engine.reading() as session:
        assert session.get(Enterprise, enterprise_id).legal_representative == "王建国"
        assert session.scalar(sa.select(UserAccount.email).where(UserAccount.username == "ent-wang")) == \
            "wang@example.cn"
