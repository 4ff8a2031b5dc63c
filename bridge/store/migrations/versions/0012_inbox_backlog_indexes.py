"""inbox indexes whose cost stays with the rows a statement wants, not with the backlog: (case_id,
state) for a job's claim of its conversation's rows and the dispatcher's look at a conversation's
waiting rows; (state, queued_at, next_attempt_at) for the dispatcher's take of rows never handed
over. They replace ix_inbox_case_id and ix_inbox_state_queued, whose leading columns they keep.

(case_id, state) and not (case_id, state, next_attempt_at): a new row lands at a random place in
the case index, so its size is what inserts into a big inbox keep in cache. On PostgreSQL with a
million rows, (case_id, state) is 18 MB (B-tree deduplication), the three columns 85 MB.

With thousands of rows received and not yet processed, SQLite's planner (no statistics) read every
due row through ix_inbox_state_next for each claim and each take (about 34 and 45 ms with 20,000
waiting rows); PostgreSQL, whose statistics say few rows are ``received``, filtered the same rows
through ix_inbox_state_received.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbox_case_state", "inbox", ["case_id", "state"])
    op.drop_index("ix_inbox_case_id", table_name="inbox")
    op.create_index("ix_inbox_state_queued_next", "inbox", ["state", "queued_at", "next_attempt_at"])
    op.drop_index("ix_inbox_state_queued", table_name="inbox")


def downgrade() -> None:
    op.create_index("ix_inbox_state_queued", "inbox", ["state", "queued_at"])
    op.drop_index("ix_inbox_state_queued_next", table_name="inbox")
    op.create_index("ix_inbox_case_id", "inbox", ["case_id"])
    op.drop_index("ix_inbox_case_state", table_name="inbox")
