"""The base of the stores' typed rows: a frozen dataclass read from a result row by column
name, and shown again as a dict in its fields' order (the table's order)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Self

from sqlalchemy.engine import RowMapping

_COLUMNS: dict[type, tuple[str, ...]] = {}


class StoredRow:
    """Mixed into a ``@dataclass(frozen=True, slots=True)`` whose fields are the columns its
    statement selects; a mistyped column is then a mypy error, not a ``KeyError``."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: RowMapping) -> Self:
        return cls(**row)

    @classmethod
    def from_optional(cls, row: RowMapping | None) -> Self | None:
        """``from_row``, or None for no row (a lookup that found nothing)."""
        return None if row is None else cls.from_row(row)

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The field names, in order: the columns its statements select or write (worked out
        once per class: every row shown asks for them)."""
        names = _COLUMNS.get(cls)
        if names is None:
            names = _COLUMNS[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        return names

    def as_dict(self) -> dict[str, Any]:
        """Column name to value, in the fields' order."""
        return {name: getattr(self, name) for name in self.columns()}
