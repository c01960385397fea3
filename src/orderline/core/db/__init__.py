"""The database: the async engine, shared column types, the schema metadata, and the Alembic
migrations shipped with the package.
"""
