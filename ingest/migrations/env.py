"""Alembic environment: migrations run from ``ingest.store.migrate``, not a CLI ini."""

from __future__ import annotations

from alembic import context

import channels.sms.db  # noqa: F401  (registers the SMS tables on Base.metadata)
import dedupe.db  # noqa: F401  (the link index and possible links)
import ingest.audit  # noqa: F401  (the audit table)
import ingest.governance.db as _governance  # noqa: F401  (person refs, holds, item privacy)
from ingest.db import Base, make_engine
from ingest.webapp import db as _webapp_tables  # noqa: F401  (staff users, sessions)

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL without a database (``alembic upgrade --sql``)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a live connection, handed in or made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
