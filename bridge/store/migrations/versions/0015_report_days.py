"""report_days (the recovery report's figures per whole day and set of filters, reused while the days they depend on are
unchanged), and two covering indexes its per-day digests read instead of the case rows

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("reach", sa.Date(), nullable=False),
        sa.Column("depends", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_created_times", ["created_at", "updated_at", "escalated_at", "acknowledged_at",
                                                      "first_response_at"])
        batch.create_index("ix_cases_id_created", ["id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_id_created")
        batch.drop_index("ix_cases_created_times")
    op.drop_table("report_days")
