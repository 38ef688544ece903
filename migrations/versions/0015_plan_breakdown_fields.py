"""the plan's breakdowns: the applicant's kind, region, industry and size; the loan's type, first-loan and term class

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('enterprise') as batch:
        batch.add_column(sa.Column('applicant_kind', sa.String(length=30), nullable=False,
                                   server_default='enterprise'))
        batch.add_column(sa.Column('region_code', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('industry_section', sa.String(length=1), nullable=True))
        batch.add_column(sa.Column('size_class', sa.String(length=10), nullable=True))
    with op.batch_alter_table('loan_application') as batch:
        batch.add_column(sa.Column('loan_type', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('first_loan', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('term_class', sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('loan_application') as batch:
        batch.drop_column('term_class')
        batch.drop_column('first_loan')
        batch.drop_column('loan_type')
    with op.batch_alter_table('enterprise') as batch:
        batch.drop_column('size_class')
        batch.drop_column('industry_section')
        batch.drop_column('region_code')
        batch.drop_column('applicant_kind')
