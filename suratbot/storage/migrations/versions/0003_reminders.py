"""Reminders: each reminder to a late step's holder and each escalation, claimed once before it is sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.String(length=32), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("late_minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["holder_id"], ["staff.id"], name=op.f("fk_reminders_holder_id_staff")),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_reminders_letter_id_letters"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["recipient_id"], ["staff.id"], name=op.f("fk_reminders_recipient_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("letter_id", "step_started_at", "kind", "seq", name=op.f("uq_reminders_letter_id")),
    )
    with op.batch_alter_table("reminders") as batch:
        batch.create_index(batch.f("ix_reminders_letter_id"), ["letter_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_index(batch.f("ix_reminders_letter_id"))
    op.drop_table("reminders")
