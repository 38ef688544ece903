"""credit-query authorization lifecycle (reserved for the authorization work)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = '0018'
down_revision: Union[str, Sequence[str], None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
