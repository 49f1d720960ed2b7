"""A/B experiments: the variant each conversation was assigned

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=16), nullable=True),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "experiment", "conversation_id", name="uq_experiment_conversation"
        ),
    )
    op.create_index(
        "ix_experiment_assignments_customer_id",
        "experiment_assignments",
        ["customer_id"],
    )
    op.create_index(
        "ix_experiment_assignments_conversation_id",
        "experiment_assignments",
        ["conversation_id"],
    )
    op.create_index(
        "ix_experiment_assignments_experiment_customer",
        "experiment_assignments",
        ["experiment", "customer_id"],
    )


def downgrade() -> None:
    op.drop_table("experiment_assignments")
