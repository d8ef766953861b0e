"""Alembic environment: runs on the connection handed over by :func:`geodata.db.migrate`."""

from __future__ import annotations

from alembic import context

from geodata.schema import include_object, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic is run by hand
    from geodata.db import get_engine

    with get_engine().begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(
        connection=connection, target_metadata=metadata, include_object=include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
