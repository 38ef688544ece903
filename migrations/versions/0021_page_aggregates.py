"""page aggregates: the board's figures kept per institution and day, backfilled; indexes for the pages

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 12:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0021'
down_revision: Union[str, Sequence[str], None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default='0')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'figures_day',
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *(_count(name) for name in ('submitted', 'accepted', 'decided', 'approved')),
        sa.Column('amount_approved', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('amount_disbursed', sa.BigInteger(), nullable=False, server_default='0'),
        *(_count(f'status_{status}') for status in ('submitted', 'accepted', 'approved', 'rejected', 'disbursed',
                                                    'settled', 'withdrawn')),
        sa.PrimaryKeyConstraint('institution_id', 'day'),
    )
    op.create_table(
        'figures_breach_day',
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        _count('recorded'), _count('resolved'), _count('acted'),
        sa.PrimaryKeyConstraint('institution_id', 'day', 'kind'),
    )
    op.create_index('ix_figures_breach_day_day', 'figures_breach_day', ['day'])
    op.create_table(
        'figures_decision_days',
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('working_days', sa.Integer(), nullable=False),
        _count('decided'),
        sa.PrimaryKeyConstraint('institution_id', 'working_days'),
    )
    op.create_table(
        'figures_process',
        sa.Column('definition_id', sa.Integer(), nullable=False),
        _count('started'),
        sa.PrimaryKeyConstraint('definition_id'),
    )
    # Today's counts by range (open tasks due today or overdue; provisional deadlines), and the lists'
    # keyset pages (engine/loans/listing.py).
    op.create_index('ix_task_state_due', 'task', ['state', 'due_at'])
    op.create_index('ix_timer_provisional_state', 'timer', ['provisional', 'state'])
    op.create_index('ix_application_submitted', 'loan_application', ['submitted_at', 'id'])
    op.create_index('ix_application_institution_submitted', 'loan_application',
                    ['institution_id', 'submitted_at', 'id'])
    op.create_index('ix_application_institution_amount', 'loan_application', ['institution_id', 'amount', 'id'])
    op.create_index('ix_application_status_submitted', 'loan_application', ['status', 'submitted_at', 'id'])
    from engine.loans.figures_rebuild import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_application_status_submitted', table_name='loan_application')
    op.drop_index('ix_application_institution_amount', table_name='loan_application')
    op.drop_index('ix_application_institution_submitted', table_name='loan_application')
    op.drop_index('ix_application_submitted', table_name='loan_application')
    op.drop_index('ix_timer_provisional_state', table_name='timer')
    op.drop_index('ix_task_state_due', table_name='task')
    op.drop_table('figures_process')
    op.drop_table('figures_decision_days')
    op.drop_index('ix_figures_breach_day_day', table_name='figures_breach_day')
    op.drop_table('figures_breach_day')
    op.drop_table('figures_day')
