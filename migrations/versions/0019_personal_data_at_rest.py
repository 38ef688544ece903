"""personal data at rest: ID and phone numbers encrypted (AES-256-GCM), keyed lookup hashes

The columns are widened to hold ciphertexts and every plaintext value is encrypted in place, with the keyring
the application uses (installed by `flask init-db`; otherwise built from the same settings: PERSONAL_DATA_KEYS
and PERSONAL_DATA_HASH_KEY, derived from SECRET_KEY outside production). Downgrade decrypts.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

HASH = 73  # key id, ':', 64 hex digits
# (table, column, plaintext length, ciphertext length, hash column, hash kind); ciphertext lengths as
# engine.workflow.encryption.ciphertext_length gave them when this migration was written.
COLUMNS = (
    ('enterprise', 'representative_id_number', 18, 149, 'representative_id_number_hash', 'id_number'),
    ('enterprise', 'contact_phone', 20, 157, 'contact_phone_hash', 'phone'),
    ('pending_registration', 'address', 254, 1405, 'address_hash', 'contact'),
)
BATCH = 500


def _keyring():
    from config import config_for
    from engine.platform.personal_data import keyring_from_settings
    from engine.workflow import encryption

    if encryption.has_keyring():
        return encryption.installed()
    settings = config_for()
    return keyring_from_settings(settings.PERSONAL_DATA_KEYS, settings.PERSONAL_DATA_HASH_KEY,
                                 settings.personal_data_fallback_secret())


def _rewrite(table: str, column: str, hash_column: str | None, change) -> None:
    """Pass every non-null value of the column through `change` (value -> (stored, hash)), batch by batch."""
    columns = [sa.column('id', sa.Integer), sa.column(column, sa.String)]
    if hash_column:
        columns.append(sa.column(hash_column, sa.String))
    rows = sa.table(table, *columns)
    connection = op.get_bind()
    last = 0
    while True:
        batch = connection.execute(sa.select(rows.c.id, rows.c[column]).where(
            rows.c.id > last, rows.c[column].is_not(None)).order_by(rows.c.id).limit(BATCH)).all()
        for row_id, value in batch:
            stored, digest = change(value)
            values = {column: stored, **({hash_column: digest} if hash_column else {})}
            connection.execute(sa.update(rows).where(rows.c.id == row_id).values(**values))
        if len(batch) < BATCH:
            return
        last = batch[-1][0]


def _has_rows(table: str, column: str) -> bool:
    rows = sa.table(table, sa.column(column, sa.String))
    return op.get_bind().execute(sa.select(sa.func.count()).select_from(rows)
                                 .where(rows.c[column].is_not(None))).scalar() > 0


def upgrade() -> None:
    """Widen the columns, add the hashes, encrypt what is there."""
    with op.batch_alter_table('enterprise') as batch:
        batch.alter_column('representative_id_number', type_=sa.String(length=149), existing_nullable=True)
        batch.alter_column('contact_phone', type_=sa.String(length=157), existing_nullable=True)
        batch.add_column(sa.Column('representative_id_number_hash', sa.String(length=HASH), nullable=True))
        batch.add_column(sa.Column('contact_phone_hash', sa.String(length=HASH), nullable=True))
    op.create_index(op.f('ix_enterprise_representative_id_number_hash'), 'enterprise',
                    ['representative_id_number_hash'], unique=False)
    op.create_index(op.f('ix_enterprise_contact_phone_hash'), 'enterprise', ['contact_phone_hash'], unique=False)
    op.drop_index('ix_pending_registration_address_created', table_name='pending_registration')
    with op.batch_alter_table('pending_registration') as batch:
        batch.alter_column('address', type_=sa.String(length=1405), existing_nullable=False)
        batch.add_column(sa.Column('address_hash', sa.String(length=HASH), nullable=True))
    keyring = None
    for table, column, _plain, _stored, hash_column, kind in COLUMNS:
        if not _has_rows(table, column):
            continue
        keyring = keyring or _keyring()

        def encrypt(value, table=table, column=column, kind=kind):
            if value.startswith('pd1:'):  # already encrypted (a rerun after a partial failure)
                value = keyring.decrypt(value, f'{table}.{column}')
            return keyring.encrypt(value, f'{table}.{column}'), keyring.lookup_hash(kind, value)

        _rewrite(table, column, hash_column, encrypt)
    with op.batch_alter_table('pending_registration') as batch:
        batch.alter_column('address_hash', existing_type=sa.String(length=HASH), nullable=False)
    op.create_index('ix_pending_registration_address_hash_created', 'pending_registration',
                    ['address_hash', 'created_at'], unique=False)


def downgrade() -> None:
    """Decrypt in place, drop the hashes, narrow the columns back."""
    keyring = None
    for table, column, _plain, _stored, _hash_column, _kind in COLUMNS:
        if not _has_rows(table, column):
            continue
        keyring = keyring or _keyring()

        def decrypt(value, table=table, column=column):
            return keyring.decrypt(value, f'{table}.{column}') if value.startswith('pd1:') else value, None

        _rewrite(table, column, None, decrypt)
    op.drop_index('ix_pending_registration_address_hash_created', table_name='pending_registration')
    with op.batch_alter_table('pending_registration') as batch:
        batch.drop_column('address_hash')
        batch.alter_column('address', type_=sa.String(length=254), existing_nullable=False)
    op.create_index('ix_pending_registration_address_created', 'pending_registration', ['address', 'created_at'],
                    unique=False)
    op.drop_index(op.f('ix_enterprise_contact_phone_hash'), table_name='enterprise')
    op.drop_index(op.f('ix_enterprise_representative_id_number_hash'), table_name='enterprise')
    with op.batch_alter_table('enterprise') as batch:
        batch.drop_column('contact_phone_hash')
        batch.drop_column('representative_id_number_hash')
        batch.alter_column('contact_phone', type_=sa.String(length=20), existing_nullable=True)
        batch.alter_column('representative_id_number', type_=sa.String(length=18), existing_nullable=True)
