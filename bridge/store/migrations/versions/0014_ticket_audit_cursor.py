"""ticket_state.audit_id and audit_page: the reconciler's cursor in a ticket's audits (the last audit
applied, and the page[after] cursor of the page holding it), so each poll applies only what came after

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows already there start without a cursor: their next poll reads the audits from the first
    # page, and whatever a webhook already applied comes out unchanged, stale or duplicate.
    with op.batch_alter_table("ticket_state") as batch:
        batch.add_column(sa.Column("audit_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("audit_page", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_state") as batch:
        batch.drop_column("audit_page")
        batch.drop_column("audit_id")
