"""roster rotations: the CE leader, Security PM, Security CEs and Value Engineering over time

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roster_rotations",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ce_leader", sa.String(length=64), nullable=False),
        sa.Column("security_pm", sa.String(length=64), nullable=False),
        sa.Column("security_ce_us_west_apac", sa.String(length=64), nullable=False),
        sa.Column("security_ce_us_east_emea", sa.String(length=64), nullable=False),
        sa.Column("value_engineering", sa.String(length=64), nullable=False),
        sa.Column("rotated_by", sa.String(length=64), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_roster_rotations")),
    )


def downgrade() -> None:
    op.drop_table("roster_rotations")
