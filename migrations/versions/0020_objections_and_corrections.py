"""objections (异议申诉) and record corrections; financing problems (融资问题反映)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0020'
down_revision: Union[str, Sequence[str], None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'objection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=40), nullable=False),
        sa.Column('reported_value', sa.String(length=200), nullable=True),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('filed_at', sa.DateTime(), nullable=False),
        sa.Column('filed_by', sa.String(length=100), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('escalated_at', sa.DateTime(), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('answered_by', sa.String(length=100), nullable=True),
        sa.Column('explanation', sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                                name=op.f('fk_objection_instance_id_process_instance')),
        sa.ForeignKeyConstraint(['application_id'], ['loan_application.id'],
                                name=op.f('fk_objection_application_id_loan_application')),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_objection_institution_id_institution')),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'],
                                name=op.f('fk_objection_enterprise_id_enterprise')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_objection')),
        sa.UniqueConstraint('instance_id', name=op.f('uq_objection_instance_id')),
    )
    op.create_index('ix_objection_application_state', 'objection', ['application_id', 'state'])
    op.create_index(op.f('ix_objection_enterprise_id'), 'objection', ['enterprise_id'])
    op.create_table(
        'record_correction',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('objection_id', sa.Integer(), nullable=True),
        sa.Column('field', sa.String(length=40), nullable=False),
        sa.Column('old_value', sa.String(length=200), nullable=True),
        sa.Column('new_value', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('corrected_at', sa.DateTime(), nullable=False),
        sa.Column('corrected_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['loan_application.id'],
                                name=op.f('fk_record_correction_application_id_loan_application')),
        sa.ForeignKeyConstraint(['objection_id'], ['objection.id'],
                                name=op.f('fk_record_correction_objection_id_objection')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_record_correction')),
    )
    op.create_index(op.f('ix_record_correction_application_id'), 'record_correction', ['application_id'])
    op.create_table(
        'financing_problem',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=True),
        sa.Column('institution_id', sa.Integer(), nullable=True),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('description', sa.String(length=2000), nullable=False),
        sa.Column('filed_at', sa.DateTime(), nullable=False),
        sa.Column('filed_by', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('answer', sa.String(length=2000), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('answered_by', sa.String(length=100), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('satisfied', sa.Boolean(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closing_note', sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                                name=op.f('fk_financing_problem_instance_id_process_instance')),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'],
                                name=op.f('fk_financing_problem_enterprise_id_enterprise')),
        sa.ForeignKeyConstraint(['application_id'], ['loan_application.id'],
                                name=op.f('fk_financing_problem_application_id_loan_application')),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_financing_problem_institution_id_institution')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_financing_problem')),
        sa.UniqueConstraint('instance_id', name=op.f('uq_financing_problem_instance_id')),
    )
    op.create_index(op.f('ix_financing_problem_enterprise_id'), 'financing_problem', ['enterprise_id'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_financing_problem_enterprise_id'), table_name='financing_problem')
    op.drop_table('financing_problem')
    op.drop_index(op.f('ix_record_correction_application_id'), table_name='record_correction')
    op.drop_table('record_correction')
    op.drop_index(op.f('ix_objection_enterprise_id'), table_name='objection')
    op.drop_index('ix_objection_application_state', table_name='objection')
    op.drop_table('objection')
