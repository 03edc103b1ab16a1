"""Durable state: SQLAlchemy models, Alembic migrations, the unit of work and the content-addressed file store."""
