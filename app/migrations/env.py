from __future__ import annotations

from alembic import context

from app.db import Database
from app.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    db: Database | None = config.attributes.get("database")
    if db is None:
        db = Database(config.get_main_option("sqlalchemy.url") or "")
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=db.is_sqlite,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
