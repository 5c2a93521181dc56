"""Alembic migrations, run by `omnicrm migrate` (and by tests) on SQLite and PostgreSQL."""
