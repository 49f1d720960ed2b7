"""emotion records: one row per scored customer message

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emotion_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=16), nullable=True),
        sa.Column("emotion", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emotion_records_conversation_id", "emotion_records",
                    ["conversation_id"])
    op.create_index("ix_emotion_records_customer_id", "emotion_records", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_emotion_records_customer_id", table_name="emotion_records")
    op.drop_index("ix_emotion_records_conversation_id", table_name="emotion_records")
    op.drop_table("emotion_records")
