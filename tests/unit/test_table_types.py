"""Every column names its type where it is declared. A column declared with only a foreign
key takes its type from the column it references, but only once that table is defined; a
statement built at import time before then (the stores build theirs once, as module
constants) binds its values untyped, which SQLite refuses for a UUID. Whether that happens
depended on the order modules were imported in, so the rule is checked in the source."""

from __future__ import annotations

import ast
from pathlib import Path

import orderline

SOURCE = Path(orderline.__file__).parent


def _untyped_foreign_keys(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("mapped_column", "Column") and node.args
                and isinstance(node.args[0], ast.Call)
                and isinstance(node.args[0].func, ast.Name)
                and node.args[0].func.id == "ForeignKey"):
            found.append(f"{name}:{node.lineno}")
    return found


def test_no_column_is_declared_with_only_a_foreign_key() -> None:
    files = sorted(SOURCE.rglob("*.py"))
    assert any(p.name == "tables.py" for p in files)
    assert [hit for p in files
            for hit in _untyped_foreign_keys(p.read_text(), str(p.relative_to(SOURCE)))] == []


def test_the_check_sees_an_untyped_foreign_key() -> None:
    sample = ('a = mapped_column(ForeignKey("orders.id"), nullable=True)\n'
              'b = mapped_column(Uuid, ForeignKey("orders.id"))\n')
    assert _untyped_foreign_keys(sample, "sample.py") == ["sample.py:1"]
