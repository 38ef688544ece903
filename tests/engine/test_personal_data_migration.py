"""Migrations 0019 and 0024 encrypt the personal data already stored (the demo enterprise's, a pending
registration's, a user's) and their downgrades decrypt it; on a fresh database they only change the schema
(test_migrations.py)."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command

from engine.platform.migrate import alembic_config
from engine.workflow import encryption
from engine.workflow.database import create_db_engine
from tests.conftest import ON_POSTGRES, POSTGRES_URL

DEMO_ID, DEMO_PHONE = "430102198001011233", "13800138000"
SCRATCH = f"personal_data_migration_{os.getpid()}"


@pytest.fixture
def scratch_url(tmp_path):
    """A database of its own (the migration goes down and up again): a SQLite file, or a scratch PostgreSQL one."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    server = create_db_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{SCRATCH}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{SCRATCH}"')
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + SCRATCH
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    server.dispose()


def _execute(url: str, sql: str, **params) -> list:
    db = create_db_engine(url)
    with db.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        found = list(result.all()) if result.returns_rows else []
    db.dispose()
    return found


def _stored(url: str) -> tuple:
    return tuple(_execute(url, "SELECT e.representative_id_number, e.contact_phone, r.address "
                               "FROM enterprise e, pending_registration r")[0])


def _demo_rows(url: str) -> None:
    """The demo loader's enterprise and a registration waiting for its SMS code, as plaintext before 0019."""
    _execute(url, "INSERT INTO enterprise (name, credit_code, legal_representative, representative_id_number, "
                  "contact_phone, applicant_kind) VALUES ('长沙星火精密制造有限公司', '91430100MA4L000001', '王建国', "
                  ":id_number, :phone, 'enterprise')", id_number=DEMO_ID, phone=DEMO_PHONE)
    _execute(url, "INSERT INTO pending_registration (secret_hash, status, applicant_kind, credit_code, name, "
                  "legal_representative, region_code, industry_section, size_class, username, display_name, channel, "
                  "address, password_hash, commitment_version, commitment_language, commitment_sha256, code_hash, "
                  "code_expires_at, code_sent_at, codes_sent, wrong_codes, source, created_at) VALUES ('s', 'pending', "
                  "'enterprise', '91430100MA4L000002', 'N', 'R', '430102', 'C', 'small', 'u', 'U', 'sms', :phone, 'x', "
                  "'v', 'zh', 'c', 'h', :at, :at, 1, 0, '127.0.0.1', :at)", phone="13900139000",
             at=datetime(2026, 9, 30, 2, 0))


def test_plaintext_rows_are_encrypted_by_the_upgrade_and_decrypted_by_the_downgrade(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, "0018")
    _demo_rows(scratch_url)
    command.upgrade(config, "0019")
    keyring = encryption.installed()
    id_number, phone, address = _stored(scratch_url)
    assert all(value.startswith(f"pd1:{keyring.current_id}:") for value in (id_number, phone, address))
    assert keyring.decrypt(id_number, "enterprise.representative_id_number") == DEMO_ID
    assert keyring.decrypt(phone, "enterprise.contact_phone") == DEMO_PHONE
    assert keyring.decrypt(address, "pending_registration.address") == "13900139000"
    assert _execute(scratch_url, "SELECT contact_phone_hash, representative_id_number_hash FROM enterprise")[0] == (
        encryption.lookup_hash("phone", DEMO_PHONE), encryption.lookup_hash("id_number", DEMO_ID))
    assert _execute(scratch_url, "SELECT address_hash FROM pending_registration")[0][0] == encryption.lookup_hash(
        "contact", "13900139000")

    command.downgrade(config, "0018")
    assert _stored(scratch_url) == (DEMO_ID, DEMO_PHONE, "13900139000")
    command.upgrade(config, "0019")  # and up again: the same values, encrypted afresh
    assert keyring.decrypt(_stored(scratch_url)[1], "enterprise.contact_phone") == DEMO_PHONE


def test_names_and_email_addresses_are_encrypted_by_0024_and_decrypted_by_its_downgrade(scratch_url):
    config = alembic_config(scratch_url)
    command.upgrade(config, "0023")
    _execute(scratch_url, "INSERT INTO enterprise (name, credit_code, legal_representative, applicant_kind) "
                          "VALUES ('长沙星火精密制造有限公司', '91430100MA4L000001', '王建国', 'enterprise')")
    _execute(scratch_url, "INSERT INTO pending_registration (secret_hash, status, applicant_kind, credit_code, name, "
                          "legal_representative, region_code, industry_section, size_class, username, display_name, "
                          "channel, address, address_hash, password_hash, commitment_version, commitment_language, "
                          "commitment_sha256, code_hash, code_expires_at, code_sent_at, codes_sent, wrong_codes, "
                          "source, created_at) VALUES ('s', 'pending', 'enterprise', '91430100MA4L000002', 'N', "
                          "'R', '430102', 'C', 'small', 'u', 'U', 'sms', 'pd1:x', 'h', 'x', 'v', 'zh', 'c', 'h', :at, "
                          ":at, 1, 0, '127.0.0.1', :at)", at=datetime(2026, 9, 30, 2, 0))
    # Rows referring to the tables the migration rebuilds on SQLite (an installation in use has them).
    _execute(scratch_url, "INSERT INTO user_account (username, password_hash, role, enterprise_id, display_name, "
                          "email, active, created_at) SELECT 'ent-user', 'x', 'enterprise', id, '王', "
                          "'wang@example.cn', :yes, :at FROM enterprise", yes=True, at=datetime(2026, 9, 30, 2, 0))
    _execute(scratch_url, "INSERT INTO web_session (id, user_id, password_mark, created_at, last_seen_at) "
                          "SELECT 's1', id, 'm', :at, :at FROM user_account", at=datetime(2026, 9, 30, 2, 0))
    referring = "SELECT s.id, u.username FROM web_session s JOIN user_account u ON u.id = s.user_id " \
                "JOIN enterprise e ON e.id = u.enterprise_id"
    names = "SELECT e.legal_representative, r.legal_representative, u.email " \
            "FROM enterprise e, pending_registration r, user_account u"
    command.upgrade(config, "0024")
    keyring = encryption.installed()
    stored = _execute(scratch_url, names)[0]
    assert all(value.startswith(f"pd1:{keyring.current_id}:") for value in stored)
    assert [keyring.decrypt(value, context) for value, context in zip(stored, (
        "enterprise.legal_representative", "pending_registration.legal_representative", "user_account.email"),
        strict=True)] == ["王建国", "R", "wang@example.cn"]

    assert _execute(scratch_url, referring) == [("s1", "ent-user")]

    command.downgrade(config, "0023")
    assert tuple(_execute(scratch_url, names)[0]) == ("王建国", "R", "wang@example.cn")
    assert _execute(scratch_url, referring) == [("s1", "ent-user")]
