"""Make the audit trail append-only with triggers.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from engine.workflow.models.append_only import drop_statements_for, statements_for

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in statements_for(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements_for(op.get_bind().dialect.name):
        op.execute(statement)
