"""The base of the stores' typed rows: a frozen dataclass read from a result row by column
name, and shown again as a dict in its fields' order (the table's order)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Self

from sqlalchemy.engine import RowMapping


class StoredRow:
    """Mixed into a ``@dataclass(frozen=True, slots=True)`` whose fields are the columns its
    statement selects; a mistyped column is then a mypy error, not a ``KeyError``."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls(**row)

    def as_dict(self) -> dict[str, Any]:
        """Column name to value, in the fields' order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
