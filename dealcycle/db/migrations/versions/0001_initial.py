"""initial: external effects ledger, license keys, trial outcomes

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Constraint and index names spell out dealcycle.db.models.NAMING_CONVENTION, so later
    # migrations can address them by name on every database.
    op.create_table(
        "external_effects",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_external_effects")),
    )
    op.create_table(
        "license_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("license_key", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_license_keys")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_license_keys_idempotency_key")),
    )
    op.create_index(
        op.f("ix_license_keys_account_id"), "license_keys", ["account_id"], unique=False
    )
    op.create_table(
        "trial_outcomes",
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("technical_win", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ce_owner", sa.String(length=64), nullable=False),
        sa.Column("ae_owner", sa.String(length=64), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("license_key_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_trial_outcomes")),
    )
    op.create_index(
        op.f("ix_trial_outcomes_account_id"), "trial_outcomes", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trial_outcomes_account_id"), table_name="trial_outcomes")
    op.drop_table("trial_outcomes")
    op.drop_index(op.f("ix_license_keys_account_id"), table_name="license_keys")
    op.drop_table("license_keys")
    op.drop_table("external_effects")
