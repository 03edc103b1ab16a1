"""The signing page's one-time links, and the channel a person chose for their notifications.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_links",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.String(length=32), nullable=False),
        sa.Column("letter_version", sa.String(length=64), nullable=False),
        sa.Column("expected_state", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_signing_links_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_signing_links_letter_id_letters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_signing_links")),
    )
    with op.batch_alter_table("signing_links") as batch:
        batch.create_index(batch.f("ix_signing_links_letter_id"), ["letter_id"], unique=False)
        batch.create_index(batch.f("ix_signing_links_expires_at"), ["expires_at"], unique=False)
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("preferred_channel", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("preferred_channel")
    with op.batch_alter_table("signing_links") as batch:
        batch.drop_index(batch.f("ix_signing_links_expires_at"))
        batch.drop_index(batch.f("ix_signing_links_letter_id"))
    op.drop_table("signing_links")
