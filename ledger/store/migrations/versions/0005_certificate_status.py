"""Certificate status (spec §8.9): each certificate's entry in a W3C Bitstring Status List, and
the append-only record of status changes (superseded, revoked).

Certificates issued before this revision have no status entry (NULL): they carry no
``credentialStatus`` and are reported as such.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from ledger.store.migrations.guards import guard_append_only

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("certificates", sa.Column("status_list", sa.Integer, nullable=True))
    op.add_column("certificates", sa.Column("status_index", sa.Integer, nullable=True))
    op.create_index(
        "ux_certificates_status", "certificates", ["status_list", "status_index"], unique=True
    )
    op.create_table(
        "certificate_status",
        sa.Column("cert_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("log_size", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
    )
    guard_append_only(["certificate_status"])


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
