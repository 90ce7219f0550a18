"""usage feed marks: per account, the latest day the usage feed read and what it last sent

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_feed_marks",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=False),
        sa.Column("readings", sa.JSON(), nullable=False),
        sa.Column("signalled_day", sa.String(length=10), nullable=False),
        sa.Column("signals", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_usage_feed_marks")),
    )


def downgrade() -> None:
    op.drop_table("usage_feed_marks")
