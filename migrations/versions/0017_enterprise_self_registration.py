"""enterprise self-registration (reserved for the registration work)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 10:30:00

"""
from typing import Sequence, Union


# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
