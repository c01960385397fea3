"""SQLAlchemy tables, the engine wrapper and repositories."""
