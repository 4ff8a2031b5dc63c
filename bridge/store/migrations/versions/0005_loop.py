"""closing the loop: vendor_events, ticket_state, jira_issues, kb_suggestions, case_notes, csat_samples

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vendor_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _tz(), nullable=False),
        sa.Column("claimed_until", _tz(), nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.UniqueConstraint("source", "delivery_id", name="uq_vendor_events_delivery"),
    )
    op.create_index("ix_vendor_events_state_next", "vendor_events", ["state", "next_attempt_at"])
    op.create_table(
        "ticket_state",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("status_at", _tz(), nullable=True),
        sa.Column("assignee_id", sa.String(64), nullable=True),
        sa.Column("assignee_at", _tz(), nullable=True),
        sa.Column("csat", sa.String(8), nullable=True),
        sa.Column("csat_comment", sa.Text(), nullable=True),
        sa.Column("csat_at", _tz(), nullable=True),
        sa.Column("comment_ids", sa.JSON(), nullable=False),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("next_reconcile_at", _tz(), nullable=True),
        sa.Column("reconciled_at", _tz(), nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
    )
    op.create_index("ix_ticket_state_ticket_id", "ticket_state", ["ticket_id"])
    op.create_table(
        "jira_issues",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("resolution", sa.String(200), nullable=True),
        sa.Column("resolved_at", _tz(), nullable=True),
        sa.Column("fix_versions", sa.JSON(), nullable=False),
        sa.Column("released", sa.JSON(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
    )
    op.create_table(
        "kb_suggestions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("done_at", _tz(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("kb_url", sa.String(2000), nullable=True),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        sa.UniqueConstraint("case_id", "kind", "reason", name="uq_case_notes_reason"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])
    op.create_table(
        "csat_samples",
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("score", sa.String(8), nullable=False),
        sa.Column("rated_at", _tz(), nullable=False),
    )
    op.create_index("ix_csat_samples_rated_at", "csat_samples", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ix_csat_samples_rated_at", "csat_samples")
    op.drop_table("csat_samples")
    op.drop_index("ix_case_notes_case_id", "case_notes")
    op.drop_table("case_notes")
    op.drop_table("kb_suggestions")
    op.drop_table("jira_issues")
    op.drop_index("ix_ticket_state_ticket_id", "ticket_state")
    op.drop_table("ticket_state")
    op.drop_index("ix_vendor_events_state_next", "vendor_events")
    op.drop_table("vendor_events")
