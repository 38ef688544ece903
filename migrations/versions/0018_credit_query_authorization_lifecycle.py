"""credit-query authorization lifecycle: purpose, the risk notice acknowledged, revocation; disclosures with purpose

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0018'
down_revision: Union[str, Sequence[str], None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('credit_authorization') as batch:
        batch.add_column(sa.Column('purpose', sa.String(length=40), nullable=False,
                                   server_default='financing_application'))
        batch.add_column(sa.Column('risk_notice_version', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('revoked_by', sa.String(length=100), nullable=True))
    op.create_table(
        'disclosure_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('authorization_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('via', sa.String(length=10), nullable=False),
        sa.Column('purpose', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['loan_application.id'],
                                name=op.f('fk_disclosure_record_application_id_loan_application')),
        sa.ForeignKeyConstraint(['authorization_id'], ['credit_authorization.id'],
                                name=op.f('fk_disclosure_record_authorization_id_credit_authorization')),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_disclosure_record_institution_id_institution')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_record')),
    )
    op.create_index('ix_disclosure_record_application_at', 'disclosure_record', ['application_id', 'at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_disclosure_record_application_at', table_name='disclosure_record')
    op.drop_table('disclosure_record')
    with op.batch_alter_table('credit_authorization') as batch:
        batch.drop_column('revoked_by')
        batch.drop_column('revoked_at')
        batch.drop_column('risk_notice_version')
        batch.drop_column('purpose')
