"""Text Orderline accepts from outside: no control characters but tab, line feed and carriage
return. A NUL cannot be stored by PostgreSQL (and would be stored by SQLite), and the others
have no place in a name, a note or an id; both databases refuse them alike, at the edge."""

from __future__ import annotations

import re
from collections.abc import Iterator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``U+0000``, or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def strings_with_control_characters(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, character) for every string in a JSON-like value (keys included) that
    holds a control character."""
    if isinstance(value, str):
        found = control_character(value)
        if found is not None:
            yield path or "body", found
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (found := control_character(key)) is not None:
                yield where, found
            yield from strings_with_control_characters(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings_with_control_characters(item, f"{path}.{index}" if path
                                                       else str(index))
