"""job runs: once-per-period jobs across processes

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 05:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'job_run',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('last_started_at', sa.DateTime(), nullable=True),
        sa.Column('last_finished_at', sa.DateTime(), nullable=True),
        sa.Column('holder', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_run')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('job_run')
