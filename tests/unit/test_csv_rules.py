"""The CSV cells the exports write and the import files they read: pure rules, no I/O."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderline.catalog import import_rules
from orderline.catalog.import_rules import stock_lines, variant_lines
from orderline.catalog.products import check_sku
from orderline.core.errors import (
    DomainError,
    ImportRejected,
    ImportTooLarge,
    ImportTooManyRows,
    ImportUnreadable,
)
from orderline.exports import rules
from orderline.exports.service import Export


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx",
                                  "=HYPERLINK(\"http://x\")"])
def test_a_text_that_starts_like_a_formula_is_written_with_a_leading_quote(text: str) -> None:
    assert rules.cell(text) == "'" + text


def test_ordinary_texts_numbers_and_times_are_written_as_they_are() -> None:
    assert rules.cell("Nguyễn Văn Ánh") == "Nguyễn Văn Ánh"
    assert rules.cell("a=b") == "a=b"
    assert rules.cell(-250) == "-250"  # the export's own number keeps its sign
    assert rules.cell(None) == ""
    assert rules.cell(True) == "true"
    assert rules.cell(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02T03:04:00+00:00"


def test_money_is_minor_units_beside_the_decimal_of_its_currency() -> None:
    assert rules.money(1250, "USD") == (1250, "12.50")
    assert rules.money(1500, "JPY") == (1500, "1500")
    assert rules.money(1234, "KWD") == (1234, "1.234")


def test_rows_are_quoted_as_rfc_4180_has_it_and_read_back_whole() -> None:
    text = rules.csv_text([("a,b", 'say "hi"', "line\nbreak", "=x")])
    assert text.endswith("\r\n")
    assert next(csv.reader(io.StringIO(text, newline=""))) == [
        "a,b", 'say "hi"', "line\nbreak", "'=x"]


@given(st.text())
def test_no_text_cell_ever_starts_like_a_formula(text: str) -> None:
    assert not rules.cell(text).startswith(rules.FORMULA_STARTS) or text == ""


def test_a_stock_file_with_a_bom_and_any_column_order_reads_into_lines() -> None:
    data = "\ufeffLocation,ON_HAND,sku\r\n,5,A-1\r\nshop,0,A-1\r\n\r\n".encode()
    lines = stock_lines(data)
    assert [(ln.row, ln.sku, ln.location, ln.on_hand) for ln in lines] == [
        (2, "A-1", None, 5), (3, "A-1", "shop", 0)]


def test_an_exported_quote_is_read_back_without_it() -> None:
    lines = stock_lines(b"sku,on_hand,note\r\nA-1,5,'=x\r\n")
    assert lines[0].note == "=x"


def test_every_bad_row_of_a_stock_file_is_reported_at_once() -> None:
    data = b"sku,on_hand\r\nA,1\r\n,2\r\nB,two\r\nA,3\r\nC,-1\r\n"
    with pytest.raises(ImportRejected) as refused:
        stock_lines(data)
    assert [(r["row"], r["column"], r["reason"]) for r in refused.value.details["rows"]] == [
        (3, "sku", "missing"), (4, "on_hand", "not_a_whole_number"), (5, "sku", "duplicate"),
        (6, "on_hand", "not_a_whole_number")]


def test_a_file_that_is_not_a_table_of_the_right_columns_is_unreadable() -> None:
    for data, reason in ((b"", "no_header"), (b"sku,on_hand\r\n", "no_rows"),
                         (b"sku,count\r\nA,1\r\n", "columns"),
                         (b"sku,on_hand,sku\r\nA,1,A\r\n", "columns"),
                         ("sku,on_hand\r\nÅ,1\r\n".encode("latin-1"), "not_utf8"),
                         (b"sku,on_hand\r\nA,\x00\r\n", "binary"),
                         (b'sku,on_hand\r\n"A,1\r\n', "malformed_csv")):
        with pytest.raises(ImportUnreadable) as refused:
            stock_lines(data)
        assert refused.value.details["reason"] == reason, data


def test_the_size_and_row_caps_are_refused_with_their_own_codes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImportTooLarge):
        stock_lines(b"x" * (import_rules.MAX_IMPORT_BYTES + 1))
    monkeypatch.setattr(import_rules, "MAX_IMPORT_ROWS", 2)
    with pytest.raises(ImportTooManyRows):
        stock_lines(b"sku,on_hand\r\nA,1\r\nB,1\r\nC,1\r\n")


def test_a_variant_row_gives_its_price_as_a_decimal_or_in_minor_units_not_both() -> None:
    data = (b"sku,product,name,price,price_minor\r\nA,P,A,12.50,\r\nB,P,B,,999\r\n"
            b"C,P,C,1.5,150\r\nD,P,D,1.505,\r\n")
    with pytest.raises(ImportRejected) as refused:
        variant_lines(data, "USD", check_sku=check_sku)
    assert [(r["row"], r["reason"]) for r in refused.value.details["rows"]] == [
        (4, "two_prices"), (5, "invalid_price")]
    good = variant_lines(data.rsplit(b"C,P", 1)[0], "USD", check_sku=check_sku)
    assert [(ln.sku, ln.price) for ln in good] == [("A", 1250), ("B", 999)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_file_is_read_or_refused_with_a_code_never_an_unexpected_error(data: bytes) -> None:
    for read in (stock_lines, lambda d: variant_lines(d, "USD", check_sku=check_sku)):
        try:
            read(b"sku,on_hand,location,note\r\n" + data if read is stock_lines else
                 b"sku,product,name,price\r\n" + data)
        except DomainError as refused:
            assert refused.code.startswith("import_")


async def test_an_export_reads_one_page_at_a_time_and_writes_each_as_it_comes() -> None:
    asked: list[tuple[int | None, int]] = []

    async def fetch(after: int | None, limit: int) -> list[int]:
        asked.append((after, limit))
        start = 0 if after is None else after + 1
        return list(range(start, min(start + limit, 5)))

    chunks = await Export(("n",), fetch, lambda n: n, lambda n: [(n, -n)]).open(2)
    assert asked == [(None, 3)]  # the first page is read before the answer starts
    written = [chunk.decode() async for chunk in chunks]

    assert written == ["\ufeffn\r\n", "0,0\r\n1,-1\r\n", "2,-2\r\n3,-3\r\n", "4,-4\r\n"]
    assert asked == [(None, 3), (1, 3), (3, 3)]


def test_a_refusal_lists_a_thousand_problems_and_counts_the_rest() -> None:
    data = b"sku,on_hand\r\n" + b"A,x\r\n" * 1005
    with pytest.raises(ImportRejected) as refused:
        stock_lines(data)
    details = refused.value.details
    assert len(details["rows"]) == import_rules.MAX_REPORTED and details["more"] > 0
