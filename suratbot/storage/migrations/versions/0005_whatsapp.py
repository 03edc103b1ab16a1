"""WhatsApp: the messages taken in (by wamid, handled once) and each outbox row's delivery status on WhatsApp.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_messages",
        sa.Column("wamid", sa.String(length=200), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wamid", name=op.f("pk_whatsapp_messages")),
    )
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.create_index(batch.f("ix_whatsapp_messages_received_at"), ["received_at"], unique=False)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("platform_status", sa.String(length=20), nullable=True))
        batch.create_index("ix_outbox_external", ["channel", "external_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_external")
        batch.drop_column("platform_status")
    with op.batch_alter_table("whatsapp_messages") as batch:
        batch.drop_index(batch.f("ix_whatsapp_messages_received_at"))
    op.drop_table("whatsapp_messages")
