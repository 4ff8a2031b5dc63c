"""case_facts (the recovery report's judgment per case, reused while unchanged), and the indexes the
report's window and its timeline lookups use: cases.created_at, timeline (kind, case_id)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stamp", sa.String(300), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("case_facts") as batch:
        batch.create_index("ix_case_facts_created_at", ["created_at"])
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_created_at", ["created_at"])
    with op.batch_alter_table("timeline") as batch:
        batch.create_index("ix_timeline_kind_case", ["kind", "case_id"])


def downgrade() -> None:
    with op.batch_alter_table("timeline") as batch:
        batch.drop_index("ix_timeline_kind_case")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_created_at")
    op.drop_table("case_facts")
