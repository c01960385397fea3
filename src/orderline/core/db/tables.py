"""The schema's declarative base, its naming convention, and the helpers every capability's
``tables`` module uses. Each row belongs to a business (``business_id``).

Typed declarative models are used for the schema and migrations; services query them with
SQLAlchemy Core statements so that every SQL statement is visible where it runs.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ForeignKey,
    MetaData,
    Table,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def business_fk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False)


def table_of(model: type[Base]) -> Table:
    """The model's Core table, typed as a Table (``__table__`` is typed as a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
