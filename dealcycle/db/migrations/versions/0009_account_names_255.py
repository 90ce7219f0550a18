"""account names as long as Salesforce's Account.Name (255): licenses, feature requests, cases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An account's workflow takes a name of up to 255 characters; these columns held 200, so the
# license, feature request and Account Tracker row of a longer one failed for good.
COLUMNS = (
    ("license_keys", "customer"),
    ("feature_requests", "account_name"),
    ("red_account_cases", "account_name"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, type_=sa.String(length=255), existing_type=sa.String(length=200)
            )


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, type_=sa.String(length=200), existing_type=sa.String(length=255)
            )
