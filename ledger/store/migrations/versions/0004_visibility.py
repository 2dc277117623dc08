"""The partner-visibility index (spec §9.4): transform inputs and cut-off lot states
(append-only), the per-party view (derived), and who added each key (spec §4.3).

Existing ledgers are re-indexed from their log when they are next opened for writing
(``ledger.service.reindex``): these tables and the new key members are derived from the log.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations.guards import guard_append_only

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("transform_inputs", "lot_states")


def upgrade() -> None:
    op.create_table(
        "transform_inputs",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("input", sa.Text, primary_key=True),
    )
    op.create_table(
        "lot_states",
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("custodian", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "visibility",
        sa.Column("party", sa.Text, primary_key=True),
        sa.Column("lot", sa.Text, primary_key=True),
        sa.Column("upto", sa.BigInteger, nullable=True),
    )
    op.add_column("keys", sa.Column("added_by", sa.Text, nullable=True))
    op.create_index("ix_keys_added_by", "keys", ["added_by"])
    guard_append_only(APPEND_ONLY)


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
