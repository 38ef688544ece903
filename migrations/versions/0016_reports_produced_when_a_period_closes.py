"""reports produced when a period closes (reserved for the reports work)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'produced_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_kind', sa.String(length=20), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('produced_at', sa.DateTime(), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_produced_report')),
        sa.UniqueConstraint('period_kind', 'period_start', name='uq_produced_report_period'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('produced_report')
