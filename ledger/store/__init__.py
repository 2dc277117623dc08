"""Storage: the ``Store`` protocol every caller types against (``protocol.py``), the SQL
implementation for SQLite and PostgreSQL (``sql.py``), the table models (``models.py``) and the
Alembic migrations. Built on ``ledger.core`` (the records it stores)."""

__all__: list[str] = []
