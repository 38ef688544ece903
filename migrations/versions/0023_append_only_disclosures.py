"""the disclosure record append-only, as the audit trail is (database triggers)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-26 21:00:00

"""
from typing import Sequence, Union

from alembic import op

from engine.workflow.models.append_only import drop_statements_for, statements_for

# revision identifiers, used by Alembic.
revision: str = '0023'
down_revision: Union[str, Sequence[str], None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    for statement in statements_for(op.get_bind().dialect.name, "disclosure_record"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements_for(op.get_bind().dialect.name, "disclosure_record"):
        op.execute(statement)
