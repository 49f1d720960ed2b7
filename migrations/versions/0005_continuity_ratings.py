"""continuity across channels (interaction context) and satisfaction ratings

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("context", sa.Text(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=2), nullable=True))
    op.create_table(
        "satisfaction_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_rating_score"),
    )
    op.create_index(
        "ix_satisfaction_ratings_conversation_id",
        "satisfaction_ratings",
        ["conversation_id"],
    )
    op.create_index(
        "ix_satisfaction_ratings_customer_id", "satisfaction_ratings", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_table("satisfaction_ratings")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("language")
        batch.drop_column("context")
