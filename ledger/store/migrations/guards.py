"""Append-only guards for the tables a migration adds (revision 0004 on; 0001–0003 keep their
own frozen copies): the database itself refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

__all__ = ["guard_append_only"]


def guard_append_only(tables: Iterable[str]) -> None:
    """Refuse UPDATE and DELETE (and on PostgreSQL TRUNCATE) on ``tables`` with a trigger.

    PostgreSQL uses ``ltl_append_only()`` of revision 0001.
    """
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ltl_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ltl_append_only()"
            )
            continue
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'ltl: table {table} is append-only "
                f"({action} refused)'); END"
            )
