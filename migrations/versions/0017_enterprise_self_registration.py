"""enterprise self-registration: pending registrations, accepted credit commitments, identity checks

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'pending_registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('applicant_kind', sa.String(length=30), nullable=False),
        sa.Column('credit_code', sa.String(length=18), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('legal_representative', sa.String(length=100), nullable=False),
        sa.Column('region_code', sa.String(length=6), nullable=False),
        sa.Column('industry_section', sa.String(length=1), nullable=False),
        sa.Column('size_class', sa.String(length=10), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('display_name', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('commitment_version', sa.String(length=40), nullable=False),
        sa.Column('commitment_language', sa.String(length=5), nullable=False),
        sa.Column('commitment_sha256', sa.String(length=64), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('code_expires_at', sa.DateTime(), nullable=False),
        sa.Column('code_sent_at', sa.DateTime(), nullable=False),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('wrong_codes', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('completed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_registration')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_pending_registration_secret_hash')),
    )
    op.create_index('ix_pending_registration_source_created', 'pending_registration', ['source', 'created_at'],
                    unique=False)
    op.create_index('ix_pending_registration_address_created', 'pending_registration', ['address', 'created_at'],
                    unique=False)
    op.create_table(
        'credit_commitment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('accepted_by', sa.String(length=100), nullable=False),
        sa.Column('accepted_at', sa.DateTime(), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('text_sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'],
                                name=op.f('fk_credit_commitment_enterprise_id_enterprise')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_credit_commitment_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_commitment')),
    )
    op.create_index(op.f('ix_credit_commitment_enterprise_id'), 'credit_commitment', ['enterprise_id'],
                    unique=False)
    op.create_table(
        'identity_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'],
                                name=op.f('fk_identity_check_enterprise_id_enterprise')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_check')),
    )
    op.create_index(op.f('ix_identity_check_enterprise_id'), 'identity_check', ['enterprise_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_identity_check_enterprise_id'), table_name='identity_check')
    op.drop_table('identity_check')
    op.drop_index(op.f('ix_credit_commitment_enterprise_id'), table_name='credit_commitment')
    op.drop_table('credit_commitment')
    op.drop_index('ix_pending_registration_address_created', table_name='pending_registration')
    op.drop_index('ix_pending_registration_source_created', table_name='pending_registration')
    op.drop_table('pending_registration')
