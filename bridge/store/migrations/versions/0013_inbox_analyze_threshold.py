"""PostgreSQL: the inbox's statistics follow its backlog (analyzed after every 5,000 changed rows,
not after 10 % of the table)

On a big inbox almost every row is processed, so the statistics say ``received`` is rare. With the
default threshold (50 rows + 10 % of the table: 100,000 rows at a million) they stay that way while
tens of thousands of received rows pile up, and the planner answers a job's claim and the
dispatcher's look at a conversation's waiting rows through an index led by ``state``, reading the
whole backlog (claim_case_inbox 11 ms on a million-row store against 1.4 ms on an empty one, with
30,000 rows waiting); once analyzed it uses (case_id, state). SQLite keeps no statistics: nothing
to do there.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inbox SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inbox RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)")
