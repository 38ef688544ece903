"""satisfaction follow-up: processes started once per case (start_process), survey answers

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'process_start',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('business_key', sa.String(length=64), nullable=False),
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('parent_instance_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('started_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                                name=op.f('fk_process_start_instance_id_process_instance')),
        sa.ForeignKeyConstraint(['parent_instance_id'], ['process_instance.id'],
                                name=op.f('fk_process_start_parent_instance_id_process_instance')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_start')),
        sa.UniqueConstraint('business_key', 'process_key', name='uq_process_start_business_key_process_key'),
    )
    op.create_table(
        'survey_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('answered_at', sa.DateTime(), nullable=False),
        sa.Column('answered_by', sa.String(length=100), nullable=False),
        sa.Column('service_attitude', sa.Integer(), nullable=False),
        sa.Column('efficiency', sa.Integer(), nullable=False),
        sa.Column('convenience', sa.Integer(), nullable=False),
        sa.Column('financing_cost', sa.Integer(), nullable=False),
        sa.Column('suggestions', sa.String(length=1000), nullable=True),
        sa.CheckConstraint(
            'service_attitude BETWEEN 1 AND 5 AND efficiency BETWEEN 1 AND 5 '
            'AND convenience BETWEEN 1 AND 5 AND financing_cost BETWEEN 1 AND 5',
            name=op.f('ck_survey_response_ratings')),
        sa.ForeignKeyConstraint(['application_id'], ['loan_application.id'],
                                name=op.f('fk_survey_response_application_id_loan_application')),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_survey_response_institution_id_institution')),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                                name=op.f('fk_survey_response_instance_id_process_instance')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_response')),
        sa.UniqueConstraint('instance_id', name=op.f('uq_survey_response_instance_id')),
    )
    op.create_index(op.f('ix_survey_response_application_id'), 'survey_response', ['application_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_survey_response_application_id'), table_name='survey_response')
    op.drop_table('survey_response')
    op.drop_table('process_start')
