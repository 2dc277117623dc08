"""Witness cosignatures (spec §5.9): the verified tlog-cosignature lines the log's witnesses
returned for its checkpoints, append-only, at most one per (witness, size).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations.guards import guard_append_only

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witness_cosignatures",
        sa.Column("witness", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
    )
    guard_append_only(["witness_cosignatures"])


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
