"""working days to decision, and indexes for the supervisors' board

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('loan_application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_working_days', sa.Integer(), nullable=True))
        batch_op.create_index('ix_application_figures', ['institution_id', 'decision_working_days', 'status',
                              'accepted_at', 'decided_at', 'approved_amount', 'disbursed_amount'], unique=False)
        batch_op.create_index('ix_application_accepted_at', ['accepted_at'], unique=False)
        batch_op.create_index('ix_application_decided_at', ['decided_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('loan_application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_decided_at')
        batch_op.drop_index('ix_application_accepted_at')
        batch_op.drop_index('ix_application_figures')
        batch_op.drop_column('decision_working_days')
