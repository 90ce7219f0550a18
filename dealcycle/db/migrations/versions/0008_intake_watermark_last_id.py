"""intake watermark by (LastModifiedDate, Id): the Id of the last deal handed off

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows saved before keep NULL: their value is a whole second and seen_ids the deals of that
    # second already read, which the intake still honours.
    with op.batch_alter_table("intake_watermarks") as batch:
        batch.add_column(sa.Column("last_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_watermarks") as batch:
        batch.drop_column("last_id")
