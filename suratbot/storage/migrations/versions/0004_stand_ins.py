"""Stand-ins: Plh / Plt periods during which another official acts for an absent one; the daily digest's runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 07:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stand_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("stand_in_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=10), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff.id"], name=op.f("fk_stand_ins_created_by_id_staff")),
        sa.ForeignKeyConstraint(["official_id"], ["staff.id"], name=op.f("fk_stand_ins_official_id_staff")),
        sa.ForeignKeyConstraint(["stand_in_id"], ["staff.id"], name=op.f("fk_stand_ins_stand_in_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stand_ins")),
    )
    with op.batch_alter_table("stand_ins") as batch:
        batch.create_index(batch.f("ix_stand_ins_official_id"), ["official_id"], unique=False)
        batch.create_index(batch.f("ix_stand_ins_stand_in_id"), ["stand_in_id"], unique=False)
    op.create_table(
        "digest_runs",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_digest_runs")),
    )


def downgrade() -> None:
    op.drop_table("digest_runs")
    with op.batch_alter_table("stand_ins") as batch:
        batch.drop_index(batch.f("ix_stand_ins_stand_in_id"))
        batch.drop_index(batch.f("ix_stand_ins_official_id"))
    op.drop_table("stand_ins")
