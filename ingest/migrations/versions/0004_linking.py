"""link index, text signatures, possible links; case-index columns on arende

Revision ID: 0004_linking
Revises: 0006_governance
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_linking"
down_revision = "0006_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_key",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("arende_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "arende_id"),
    )
    op.create_index("ix_link_key_arende", "link_key", ["arende_id"])
    op.create_table(
        "link_text",
        sa.Column("intake_id", sa.String(length=26), nullable=False),
        sa.Column("arende_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("intake_id"),
    )
    op.create_index("ix_link_text_arende_id", "link_text", ["arende_id"])
    op.create_table(
        "possible_link",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("intake_id", sa.String(length=26), nullable=False),
        sa.Column("arende_id", sa.String(length=32), nullable=False),
        sa.Column("candidate_arende_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_possible_link_intake_id", "possible_link", ["intake_id"])
    op.create_index("ix_possible_link_status", "possible_link", ["status", "id"])
    with op.batch_alter_table("arende") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.create_index("ix_arende_merged_into", "arende", ["merged_into"])


def downgrade() -> None:
    op.drop_index("ix_arende_merged_into", table_name="arende")
    with op.batch_alter_table("arende") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("merged_into")
    op.drop_table("possible_link")
    op.drop_table("link_text")
    op.drop_index("ix_link_key_arende", table_name="link_key")
    op.drop_table("link_key")
