"""`flask rotate-personal-data` moves every ID and phone number to the newest key; the pages keep working; admins
find an enterprise by its exact phone number (the keyed hash)."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from alembic import command

from engine.models import Enterprise
from engine.platform import personal_data
from engine.platform.migrate import alembic_config
from engine.workflow import encryption
from engine.workflow.encryption import key_id
from tests.conftest import rows
from web import create_app

OLD, NEW, HASH = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (7, 8, 9))
PHONE = "13912345678"


@pytest.fixture
def keyring_back():
    before = encryption.installed()
    yield
    encryption.install(before)


def test_rotation_from_the_cli_and_the_profile_page_after_it(keyring_back, engine, database_url, parties,
                                                             browser):
    personal_data.install_from_settings(OLD, HASH, None)
    with engine.transaction() as session:
        session.get(Enterprise, parties.enterprise.enterprise_id).contact_phone = PHONE
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "PERSONAL_DATA_KEYS": f"{NEW},{OLD}",
                      "PERSONAL_DATA_HASH_KEY": HASH}, engine=engine)
    command.stamp(alembic_config(database_url), "head")
    cli = app.test_cli_runner()
    old_id, new_id = (key_id(base64.urlsafe_b64decode(k)) for k in (OLD, NEW))

    check = cli.invoke(args=["rotate-personal-data", "--check"])
    assert check.exit_code == 0, check.output
    assert f"Encrypting with key {new_id}; keys held: {new_id}, {old_id}" in check.output
    assert f"enterprise.contact_phone: keys in use {old_id}; 1 rows to rewrite" in check.output

    done = cli.invoke(args=["rotate-personal-data", "--batch-size", "1"])
    assert done.exit_code == 0, done.output
    assert "enterprise.contact_phone: 1 rewritten, 0 to go" in done.output
    assert "Every value is under the newest key" in done.output
    stored = rows(engine, sa.text("SELECT contact_phone FROM enterprise WHERE contact_phone IS NOT NULL"))
    assert [value.split(":")[1] for (value,) in stored] == [new_id]

    personal_data.install_from_settings(NEW, HASH, None)  # the old key retired
    page = browser("ent-user").get("/my/profile").get_data(as_text=True)
    assert PHONE in page


def test_the_admin_finds_an_enterprise_by_its_exact_phone_number(engine, parties, browser):
    with engine.transaction() as session:
        session.get(Enterprise, parties.other_enterprise.enterprise_id).contact_phone = PHONE
    admin = browser("admin")
    page = admin.get("/admin/enterprises?text=139 1234 5678&lang=zh").get_data(as_text=True)
    assert "Other" in page and "91430100MA4L000002" in page and "91430100MA4L000001" not in page
    assert "名称或信用代码包含，或完整的电话、身份证号" in page
    assert "91430100MA4L000002" not in admin.get("/admin/enterprises?text=1391234").get_data(as_text=True)
