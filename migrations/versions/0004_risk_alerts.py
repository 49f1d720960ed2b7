"""risk alerts: evidence of every risk rule that fired, for compliance review

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

# Money columns: exact NUMERIC, integer cents on SQLite (as in 0001).
MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=48), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("ruleset", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("action_taken", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_risk_alerts_conversation_id", "risk_alerts", ["conversation_id"])
    op.create_index("ix_risk_alerts_customer_id", "risk_alerts", ["customer_id"])
    op.create_index("ix_risk_alerts_status", "risk_alerts", ["status"])


def downgrade() -> None:
    op.drop_table("risk_alerts")
