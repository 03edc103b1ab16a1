"""The dashboard's login links and sessions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_web_tokens_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_web_tokens")),
    )
    with op.batch_alter_table("web_tokens") as batch:
        batch.create_index(batch.f("ix_web_tokens_staff_id"), ["staff_id"], unique=False)
        batch.create_index(batch.f("ix_web_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_tokens") as batch:
        batch.drop_index(batch.f("ix_web_tokens_expires_at"))
        batch.drop_index(batch.f("ix_web_tokens_staff_id"))
    op.drop_table("web_tokens")
