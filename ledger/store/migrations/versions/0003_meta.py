"""What the database records about itself (``log_meta``, append-only): the log's verifier key,
pinned when the ledger is first opened, and the mark of a database made in demo mode. Also the
TRUNCATE guard that 0002 forgot on ``certificates``.

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
    op.create_table(
        "log_meta",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # ltl_append_only() is the trigger function of 0001
        op.execute(
            "CREATE TRIGGER log_meta_append_only BEFORE UPDATE OR DELETE ON log_meta "
            "FOR EACH ROW EXECUTE FUNCTION ltl_append_only()"
        )
        for table in ("log_meta", "certificates"):
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ltl_append_only()"
            )
    else:  # SQLite has no TRUNCATE (its DELETE without WHERE fires the row triggers)
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER log_meta_no_{action.lower()} BEFORE {action} ON log_meta "
                f"BEGIN SELECT RAISE(ABORT, 'ltl: table log_meta is append-only "
                f"({action} refused)'); END"
            )


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
