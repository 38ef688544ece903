"""model-driven tasks: resources deployed with a model, task roles/forms/steps, deploy reasons

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'process_resource',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'],
                                name=op.f('fk_process_resource_definition_id_process_definition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_resource')),
        sa.UniqueConstraint('definition_id', 'kind', 'name', name='uq_process_resource_definition_kind_name'),
    )
    with op.batch_alter_table('process_definition') as batch:
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
    with op.batch_alter_table('task') as batch:
        batch.add_column(sa.Column('role', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('form_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('api_step', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('commitment', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch.create_index('ix_task_role_state_due', ['role', 'state', 'due_at'])
    with op.batch_alter_table('timer') as batch:
        batch.alter_column('sla_kind', existing_type=sa.String(length=20), type_=sa.String(length=40))
    with op.batch_alter_table('sla_breach') as batch:
        batch.alter_column('kind', existing_type=sa.String(length=20), type_=sa.String(length=40))
    # Tasks opened before this release: their role and step follow from the shipped model's ids.
    op.execute("UPDATE task SET role = 'institution' WHERE role IS NULL")
    for bpmn_id, form_key, step in (("Accept", "loan_accept", "accept"), ("Decide", "loan_decide", "decision"),
                                    ("Disburse", "loan_disburse", "disbursement"),
                                    ("Settle", "loan_settle", "settlement")):
        op.execute(sa.text("UPDATE task SET form_key = :form, api_step = :step WHERE bpmn_id = :bpmn_id")
                   .bindparams(form=form_key, step=step, bpmn_id=bpmn_id))
    op.execute("UPDATE task SET commitment = 'accept' WHERE bpmn_id = 'Accept'")
    op.execute("UPDATE task SET commitment = 'decision' WHERE bpmn_id = 'Decide'")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('task') as batch:
        batch.drop_index('ix_task_role_state_due')
        for column in ('claimed_at', 'commitment', 'api_step', 'form_key', 'role'):
            batch.drop_column(column)
    with op.batch_alter_table('process_definition') as batch:
        batch.drop_column('reason')
    op.drop_table('process_resource')
