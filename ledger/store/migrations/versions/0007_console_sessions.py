"""Console sign-in sessions (spec §9.10) in the database, so that every server process and
node on one database knows every session: the SHA-256 of the session id (never the id), the
token's SHA-256, the CSRF token, and the opening and end in microseconds since the Unix epoch.
Not append-only: sign-out, expiry and eviction delete rows.

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
    op.create_table(
        "console_sessions",
        sa.Column("sid_hash", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_console_sessions_token", "console_sessions", ["token_hash", "created_us"])
    op.create_index("ix_console_sessions_created", "console_sessions", ["created_us"])
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_us"])


def downgrade() -> None:
    raise RuntimeError("the ledger schema is append-only and is never downgraded")
