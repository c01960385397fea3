"""Reading an import file (stock levels, variants) into typed lines: pure, no I/O.

The format is kept simple on purpose, so a file is read one way only and never guessed at:
UTF-8 (with or without the byte-order mark spreadsheets write), comma-separated, double quotes
as RFC 4180 has them, a header row naming the columns (in any order, any case). Other encodings
are refused with a clear message rather than decoded into wrong names. Every problem of every
row is collected, so the merchant fixes the whole file at once; a file with any problem changes
nothing (``ImportRejected``, ``details.rows``). Rows are numbered as a spreadsheet shows them:
the header is row 1.

A cell that starts with ``'`` followed by a formula character is read without the quote: it is
how the exports (and spreadsheets) keep such a text from running as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderline.core.errors import (
    DomainError,
    ImportRejected,
    ImportTooLarge,
    ImportTooManyRows,
    ImportUnreadable,
    ValidationFailed,
)
from orderline.core.money import MAX_MINOR_UNITS, parse_major_units

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
MAX_STOCK = 1_000_000_000  # as a manual adjustment (catalog.inventory.MAX_ADJUSTMENT)
MAX_CELL = 1000
_BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong with one row: ``reason`` a stable code, ``message`` what to fix."""

    row: int
    column: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason,
                "message": self.message}


MAX_REPORTED = 1000  # problems listed in one refusal (``details.more`` counts the rest)


def rejected(problems: Sequence[RowProblem]) -> ImportRejected:
    ordered = sorted(problems, key=lambda p: (p.row, p.column))
    details: dict[str, Any] = {"rows": [p.as_dict() for p in ordered[:MAX_REPORTED]]}
    if len(ordered) > MAX_REPORTED:
        details["more"] = len(ordered) - MAX_REPORTED
    return ImportRejected(
        f"The file was not imported: {len(ordered)} problem(s) in its rows. Nothing changed; "
        "fix the rows listed and send the whole file again.", details=details)


class DryRunDone(Exception):
    """Raised at the end of a dry run's transaction to roll it back, carrying the answer the
    import would have given."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Table:
    """The file's data rows, each its spreadsheet row number and its cells by column name."""

    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportTooLarge(f"Import files are limited to {MAX_IMPORT_BYTES} bytes; split "
                             "this one into several.", details={"max_bytes": MAX_IMPORT_BYTES})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportUnreadable(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' (comma-separated) and send it "
            "again.", details={"reason": "not_utf8", "byte": error.start}) from None
    return text.removeprefix(_BOM)


def _unquoted(value: str) -> str:
    value = value.strip()
    if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


def read_table(data: bytes, *, required: Iterable[str], optional: Iterable[str]) -> Table:
    """The file as a table of the named columns, or a refusal saying why it is not one."""
    text = decode(data)
    if "\x00" in text:
        raise ImportUnreadable("The file holds binary data, not CSV text.",
                               details={"reason": "binary"})
    required, optional = tuple(required), tuple(optional)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ImportUnreadable("The file is empty: its first row must name the columns ("
                                   + ", ".join(required) + ").",
                                   details={"reason": "no_header", "required": list(required)})
        names = [h.strip().lower() for h in header]
        while names and not names[-1]:
            names.pop()  # empty columns a spreadsheet leaves at the right
        columns = tuple(names)
        _check_columns(columns, required, optional)
        rows: list[tuple[int, dict[str, str]]] = []
        # A record may span several physical lines (a quoted cell with a line break), so a
        # row's number is its record's (header = 1), as the spreadsheet shows it.
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue  # a blank line, as spreadsheets leave at the end
            if len(rows) >= MAX_IMPORT_ROWS:
                raise ImportTooManyRows(
                    f"One import takes at most {MAX_IMPORT_ROWS} rows; split the file.",
                    details={"max_rows": MAX_IMPORT_ROWS})
            row = {name: _unquoted(cells[i]) if i < len(cells) else ""
                   for i, name in enumerate(columns)}
            if any(c.strip() for c in cells[len(columns):]):
                row[""] = "extra"  # more cells than columns: reported as the row's problem
            rows.append((number, row))
    except csv.Error as error:
        raise ImportUnreadable(f"The file is not valid CSV: {error}.",
                               details={"reason": "malformed_csv"}) from None
    if not rows:
        raise ImportUnreadable("The file has a header row but no rows to import.",
                               details={"reason": "no_rows"})
    return Table(columns=columns, rows=rows)


def _check_columns(columns: tuple[str, ...], required: tuple[str, ...],
                   optional: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required and c not in optional]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or repeated:
        raise ImportUnreadable(
            "The header row must name the columns " + ", ".join(required)
            + (" (and may name " + ", ".join(optional) + ")" if optional else "")
            + ", each once, separated by commas.",
            details={"reason": "columns", "missing": missing, "unknown": unknown,
                     "repeated": repeated})


def _extra_cells(number: int, cells: dict[str, str]) -> list[RowProblem]:
    if "" in cells:
        return [RowProblem(number, "", "too_many_cells",
                           "This row has more cells than the header has columns.")]
    return []


def _whole_number(number: int, column: str, text: str, *, maximum: int,
                  problems: list[RowProblem]) -> int | None:
    if not (text.isascii() and text.isdigit()):
        problems.append(RowProblem(number, column, "not_a_whole_number",
                                   f"Write {column} as a whole number of 0 or more, like 12."))
        return None
    value = int(text)
    if value > maximum:
        problems.append(RowProblem(number, column, "too_large",
                                   f"{column} is at most {maximum}."))
        return None
    return value


def _text(number: int, column: str, text: str, *, problems: list[RowProblem],
          maximum: int = MAX_CELL) -> str:
    if len(text) > maximum:
        problems.append(RowProblem(number, column, "too_long",
                                   f"{column} is at most {maximum} characters."))
    return text


# --- stock levels ------------------------------------------------------------------------------

STOCK_COLUMNS = ("sku", "on_hand")
STOCK_OPTIONAL = ("location", "note")


@dataclass(frozen=True, slots=True)
class StockLine:
    """Set ``sku``'s on-hand count at ``location`` (its code; None: the default location)."""

    row: int
    sku: str
    location: str | None
    on_hand: int
    note: str


def stock_lines(data: bytes) -> list[StockLine]:
    """The stock-level file's lines, or ``ImportRejected`` with every bad row."""
    lines, problems = read_stock(data)
    if problems:
        raise rejected(problems)
    return lines


def read_stock(data: bytes) -> tuple[list[StockLine], list[RowProblem]]:
    """The stock-level file's good lines and the problems of its bad rows (so a use case can
    check the good ones against the database and report every bad row at once)."""
    table = read_table(data, required=STOCK_COLUMNS, optional=STOCK_OPTIONAL)
    problems: list[RowProblem] = []
    lines: list[StockLine] = []
    seen: dict[tuple[str, str | None], int] = {}
    for number, cells in table.rows:
        problems.extend(_extra_cells(number, cells))
        sku = cells["sku"]
        if not sku:
            problems.append(RowProblem(number, "sku", "missing", "Write the SKU."))
        on_hand = _whole_number(number, "on_hand", cells["on_hand"], maximum=MAX_STOCK,
                                problems=problems)
        location = cells.get("location") or None
        note = _text(number, "note", cells.get("note", ""), problems=problems)
        key = (sku, location)
        if sku and key in seen:
            problems.append(RowProblem(number, "sku", "duplicate",
                                       f"{sku} at this location is already set in row "
                                       f"{seen[key]}."))
        seen.setdefault(key, number)
        if sku and on_hand is not None and not any(p.row == number for p in problems):
            lines.append(StockLine(number, sku, location, on_hand, note))
    return lines, problems


# --- variants ----------------------------------------------------------------------------------

VARIANT_COLUMNS = ("sku",)
VARIANT_OPTIONAL = ("product", "name", "price", "price_minor", "low_stock_threshold",
                    "weight_grams")
MAX_WEIGHT_GRAMS = 1_000_000_000
MAX_THRESHOLD = 2_147_483_647


@dataclass(frozen=True, slots=True)
class VariantLine:
    """Create ``sku`` (under the product named ``product``) or change what the row gives of
    it; a field left empty is left as it is (None here)."""

    row: int
    sku: str
    product: str | None
    name: str | None
    price: int | None
    low_stock_threshold: int | None
    weight_grams: int | None

    def changes(self) -> dict[str, int | str]:
        """The variant's columns this line sets (the names ``update_variant`` takes)."""
        values: dict[str, int | str | None] = {
            "name": self.name, "price_minor": self.price,
            "low_stock_threshold": self.low_stock_threshold, "weight_grams": self.weight_grams}
        return {k: v for k, v in values.items() if v is not None}


def variant_lines(data: bytes, currency: str, *,
                  check_sku: Callable[[str], str]) -> list[VariantLine]:
    """The variant file's lines, or ``ImportRejected`` with every bad row."""
    lines, problems = read_variants(data, currency, check_sku=check_sku)
    if problems:
        raise rejected(problems)
    return lines


def read_variants(data: bytes, currency: str, *, check_sku: Callable[[str], str]
                  ) -> tuple[list[VariantLine], list[RowProblem]]:
    """The variant file's good lines and the problems of its bad rows. ``price`` is a
    decimal in the business's currency (``12.50``), ``price_minor`` its minor units; a row
    gives one of them at most."""
    table = read_table(data, required=VARIANT_COLUMNS, optional=VARIANT_OPTIONAL)
    problems: list[RowProblem] = []
    lines: list[VariantLine] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        problems.extend(_extra_cells(number, cells))
        sku = cells["sku"]
        try:
            check_sku(sku)
        except DomainError as refused:
            problems.append(RowProblem(number, "sku", "invalid_sku", refused.message))
        if sku in seen:
            problems.append(RowProblem(number, "sku", "duplicate",
                                       f"{sku} is already in row {seen[sku]}."))
        seen.setdefault(sku, number)
        price = _price(number, cells, currency, problems)
        threshold = weight = None
        if cells.get("low_stock_threshold"):
            threshold = _whole_number(number, "low_stock_threshold",
                                      cells["low_stock_threshold"], maximum=MAX_THRESHOLD,
                                      problems=problems)
        if cells.get("weight_grams"):
            weight = _whole_number(number, "weight_grams", cells["weight_grams"],
                                   maximum=MAX_WEIGHT_GRAMS, problems=problems)
        name = _text(number, "name", cells.get("name", ""), problems=problems, maximum=200)
        product = _text(number, "product", cells.get("product", ""), problems=problems,
                        maximum=200)
        if not any(p.row == number for p in problems):
            lines.append(VariantLine(number, sku, product or None, name or None, price,
                                     threshold, weight))
    return lines, problems


def _price(number: int, cells: dict[str, str], currency: str,
           problems: list[RowProblem]) -> int | None:
    decimal, minor = cells.get("price", ""), cells.get("price_minor", "")
    if decimal and minor:
        problems.append(RowProblem(number, "price", "two_prices",
                                   "Give the price once: in price or in price_minor."))
        return None
    if minor:
        return _whole_number(number, "price_minor", minor, maximum=MAX_MINOR_UNITS,
                             problems=problems)
    if decimal:
        try:
            return parse_major_units(decimal, currency)
        except ValidationFailed as refused:
            problems.append(RowProblem(number, "price", "invalid_price", refused.message))
    return None


def new_variant_problems(line: VariantLine) -> list[RowProblem]:
    """What a line naming a SKU the business lacks must also give to create it."""
    return [RowProblem(line.row, column, "needed_for_new_sku",
                       f"{line.sku} is a new SKU: write its {column}.")
            for column, value in (("product", line.product), ("name", line.name),
                                  ("price", line.price)) if value is None]
