"""governance: person references, legal holds, item privacy state

Revision ID: 0006_governance
Revises: 0008_webapp
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_governance"
down_revision = "0008_webapp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_ref",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("intake_id", sa.String(length=26), nullable=False),
        sa.Column("arende_id", sa.String(length=32), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_person_ref_digest", "person_ref", ["digest"])
    op.create_index("ix_person_ref_intake_id", "person_ref", ["intake_id"])
    op.create_index("ix_person_ref_arende_id", "person_ref", ["arende_id"])
    op.create_table(
        "legal_hold",
        sa.Column("arende_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("arende_id"),
    )
    op.create_table(
        "item_privacy",
        sa.Column("intake_id", sa.String(length=26), nullable=False),
        sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anonymised_by", sa.String(length=16), nullable=True),
        sa.Column("blobs_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blobs_deleted_by", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("intake_id"),
    )


def downgrade() -> None:
    op.drop_table("item_privacy")
    op.drop_table("legal_hold")
    op.drop_index("ix_person_ref_arende_id", table_name="person_ref")
    op.drop_index("ix_person_ref_intake_id", table_name="person_ref")
    op.drop_index("ix_person_ref_digest", table_name="person_ref")
    op.drop_table("person_ref")
