"""bug_fingerprints: one Jira issue per bug fingerprint, with the customers and cases on it

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bug_fingerprints",
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("mrr", sa.Float(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("customer_keys", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    with op.batch_alter_table("bug_fingerprints") as batch:
        batch.create_index("ix_bug_fingerprints_issue_key", ["issue_key"])


def downgrade() -> None:
    with op.batch_alter_table("bug_fingerprints") as batch:
        batch.drop_index("ix_bug_fingerprints_issue_key")
    op.drop_table("bug_fingerprints")
