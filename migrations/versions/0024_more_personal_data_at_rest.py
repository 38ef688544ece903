"""personal data at rest: legal representatives' names and users' e-mail addresses encrypted (AES-256-GCM)

As 0019 did for ID and phone numbers: the columns are widened to hold ciphertexts and every plaintext value is
encrypted in place with the keyring the application uses; none is looked up by value, so no hash. Downgrade
decrypts and narrows the columns back.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-26 21:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0024'
down_revision: Union[str, Sequence[str], None] = '0023'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (table, column, plaintext length, ciphertext length, nullable); ciphertext lengths as
# engine.workflow.encryption.ciphertext_length gave them when this migration was written.
COLUMNS = (
    ('enterprise', 'legal_representative', 100, 585, True),
    ('pending_registration', 'legal_representative', 100, 585, False),
    ('user_account', 'email', 254, 1405, True),
)
BATCH = 500
PREFIX = 'pd1:'


def _keyring():
    from config import config_for
    from engine.platform.personal_data import keyring_from_settings
    from engine.workflow import encryption

    if encryption.has_keyring():
        return encryption.installed()
    settings = config_for()
    return keyring_from_settings(settings.PERSONAL_DATA_KEYS, settings.PERSONAL_DATA_HASH_KEY,
                                 settings.personal_data_fallback_secret())


def _rewrite(table: str, column: str, change) -> None:
    """Pass every non-null value of the column through `change`, batch by batch."""
    rows = sa.table(table, sa.column('id', sa.Integer), sa.column(column, sa.String))
    connection = op.get_bind()
    last = 0
    while True:
        batch = connection.execute(sa.select(rows.c.id, rows.c[column]).where(
            rows.c.id > last, rows.c[column].is_not(None)).order_by(rows.c.id).limit(BATCH)).all()
        for row_id, value in batch:
            connection.execute(sa.update(rows).where(rows.c.id == row_id).values({column: change(value)}))
        if len(batch) < BATCH:
            return
        last = batch[-1][0]


def _has_rows(table: str, column: str) -> bool:
    rows = sa.table(table, sa.column(column, sa.String))
    return op.get_bind().execute(sa.select(sa.func.count()).select_from(rows)
                                 .where(rows.c[column].is_not(None))).scalar() > 0


def upgrade() -> None:
    """Widen the columns, encrypt what is there."""
    keyring = None
    for table, column, plain, stored, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=stored), existing_type=sa.String(length=plain),
                               existing_nullable=nullable)
        if not _has_rows(table, column):
            continue
        keyring = keyring or _keyring()
        context = f'{table}.{column}'

        def encrypt(value, context=context):
            if value.startswith(PREFIX):  # already encrypted (a rerun after a partial failure)
                value = keyring.decrypt(value, context)
            return keyring.encrypt(value, context)

        _rewrite(table, column, encrypt)


def downgrade() -> None:
    """Decrypt in place, narrow the columns back."""
    keyring = None
    for table, column, plain, stored, nullable in COLUMNS:
        if _has_rows(table, column):
            keyring = keyring or _keyring()
            context = f'{table}.{column}'

            def decrypt(value, context=context):
                return keyring.decrypt(value, context) if value.startswith(PREFIX) else value

            _rewrite(table, column, decrypt)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=plain), existing_type=sa.String(length=stored),
                               existing_nullable=nullable)
