"""Issued recycled-content certificates with the audit bundle each was computed from
(append-only).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, nullable=False),
        sa.Column("credential", sa.Text, nullable=False),
        sa.Column("bundle", sa.Text, nullable=False),
        sa.Column("issued_at", sa.Text, nullable=False),
    )
    op.create_index("ix_certificates_lot", "certificates", ["lot"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER certificates_append_only BEFORE UPDATE OR DELETE ON certificates "
            "FOR EACH ROW EXECUTE FUNCTION ltl_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER certificates_no_{action.lower()} BEFORE {action} ON certificates "
                f"BEGIN SELECT RAISE(ABORT, 'ltl: table certificates is append-only "
                f"({action} refused)'); END"
            )


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
