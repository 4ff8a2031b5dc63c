"""inbox.queued_at (when the dispatcher handed the row to RQ: once) and inbox.batch (the row whose
job carries a routine update)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_inbox_state_queued", ["state", "queued_at"])
        batch.add_column(sa.Column("batch", sa.String(64), nullable=True))
        batch.create_index("ix_inbox_batch", ["batch"])
    # Rows already waiting count as handed over: the sweeper finds them if Redis lost them.
    op.execute(sa.text("UPDATE inbox SET queued_at = updated_at WHERE state = 'received'"))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_batch")
        batch.drop_column("batch")
        batch.drop_index("ix_inbox_state_queued")
        batch.drop_column("queued_at")
