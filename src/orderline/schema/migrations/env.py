"""Alembic environment. Runs on the connection handed over by ``orderline.schema.migrate``."""

from alembic import context

from orderline.schema import declared, metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with 'orderline migrate', which passes the connection.")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                  include_object=declared)
with context.begin_transaction():
    context.run_migrations()
