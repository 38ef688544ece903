"""reports produced when a period closes (reserved for the reports work)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
