"""cases.route: the routing decision (team, owner, channel, vendor ids), plus lookup indexes

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("route", sa.JSON(), nullable=True))
        batch.create_index("ix_cases_status_owner", ["status", "owner"])
        batch.create_index("ix_cases_team_escalated", ["team", "escalated_at"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_team_escalated")
        batch.drop_index("ix_cases_status_owner")
        batch.drop_column("route")
