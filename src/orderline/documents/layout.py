"""Drawing an invoice or a packing slip as a PDF (fpdf2), with the fonts shipped in this
package: never the machine's, so a document looks the same on every server and in every test.

The fonts (``documents/fonts``, see its README) are Noto Sans (Latin with Vietnamese, Greek,
Cyrillic) and Noto Sans Thai as its fallback, unmodified from their npm packages, under the
SIL Open Font License. fpdf2 embeds only the glyphs a document uses, and the Thai font only
goes in a document with Thai text. Text is drawn without a
shaping engine: fine for Latin, Vietnamese (composed first, ``rules.printable``) and Thai's
marks as the font places them; a character of a script no bundled font has (Chinese, Bengali,
Devanagari, Khmer, ...) is printed as ``?`` rather than as an empty box.

Drawing costs about a tenth to a fifth of a second of CPU (mostly fontTools subsetting the
fonts), so invoices are drawn by the worker's drawing job (``documents/drawing.py``); a
packing slip is drawn when it is asked for, off the event loop (``documents/service.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

from orderline.documents.rules import (
    InvoiceSheet,
    PackingSlipSheet,
    SheetLine,
    date_text,
    money_text,
    printable,
)

FONT_DIR = Path(__file__).parent / "fonts"
# Family -> (regular, bold) files; the first family is the text's, the others its fallbacks.
FONT_FILES = {
    "NotoSans": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "NotoSansThai": ("NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
}
_TEXT_FONT = "NotoSans"
_GREY = (90, 90, 90)
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))


@functools.cache
def _cmap(family: str) -> frozenset[int]:
    """The code points ``family`` has glyphs for (read once per process)."""
    with TTFont(FONT_DIR / FONT_FILES[family][0], lazy=True) as font:
        return frozenset(font.getBestCmap())


@functools.cache
def _covered() -> frozenset[int]:
    """Every code point some bundled font has a glyph for."""
    return frozenset().union(*(_cmap(family) for family in FONT_FILES))


def _fallbacks_for(texts: Iterable[str]) -> list[str]:
    """The fallback families some of ``texts`` needs: only those are embedded, as each font
    added costs its parsing and subsetting even when unused."""
    points = {ord(char) for text in texts for char in text} - _cmap(_TEXT_FONT)
    return [family for family in FONT_FILES
            if family != _TEXT_FONT and points & _cmap(family)]


def drawable(char: str) -> bool:
    return ord(char) in _covered()


def _t(text: str) -> str:
    return printable(text, drawable)


def _new_pdf(*, title: str, author: str, created: datetime, texts: Iterable[str]) -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    fallbacks = _fallbacks_for(texts)
    for family in [_TEXT_FONT, *fallbacks]:
        regular, bold = FONT_FILES[family]
        pdf.add_font(family, "", FONT_DIR / regular)
        pdf.add_font(family, "B", FONT_DIR / bold)
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks)
    # The document's own date, so the same sheet always gives the same bytes.
    pdf.set_creation_date(created)
    pdf.set_title(_t(title))
    pdf.set_author(_t(author))
    pdf.set_creator("Orderline")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, title: str, seller: str, seller_lines: Sequence[str]) -> None:
    pdf.set_font(_TEXT_FONT, "B", 18)
    pdf.cell(0, 9, _t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_TEXT_FONT, "B", 11)
    pdf.cell(0, 6, _t(seller), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _plain_lines(pdf, seller_lines, grey=True)
    pdf.ln(3)


def _font_again(pdf: FPDF) -> None:
    """Write the current font into the page again. fpdf2 2.8 can leave the page on a fallback
    font after a line that starts in one (Thai), while it believes the page is on the text
    font, so the next lines would be drawn with the Thai font's glyphs: two changes of font
    make it write the font out again."""
    style, size = pdf.font_style, pdf.font_size_pt
    pdf.set_font(_TEXT_FONT, "B" if style != "B" else "", size)
    pdf.set_font(_TEXT_FONT, style, size)


def _plain_lines(pdf: FPDF, lines: Sequence[str], *, grey: bool = False) -> None:
    if grey:
        pdf.set_text_color(*_GREY)
    pdf.set_font(_TEXT_FONT, "", 10)
    for line in lines:
        pdf.multi_cell(0, 5, _t(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _font_again(pdf)
    pdf.set_text_color(0, 0, 0)


def _facts(pdf: FPDF, facts: Sequence[tuple[str, str]]) -> None:
    """Label and value pairs, one a line (invoice number, dates, ...)."""
    for label, value in facts:
        if not value:
            continue
        pdf.set_font(_TEXT_FONT, "B", 10)
        pdf.cell(40, 5, _t(label))
        pdf.set_font(_TEXT_FONT, "", 10)
        pdf.cell(0, 5, _t(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _block(pdf: FPDF, title: str, lines: Sequence[str]) -> None:
    if not lines:
        return
    pdf.set_font(_TEXT_FONT, "B", 11)
    pdf.cell(0, 6, _t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _plain_lines(pdf, lines)
    pdf.ln(3)


def _texts(sheet: InvoiceSheet | PackingSlipSheet) -> list[str]:
    """Every text of a sheet (its fields, its lines' names and SKUs)."""
    texts: list[str] = []
    for value in (getattr(sheet, field.name) for field in fields(sheet)):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, tuple):
            texts.extend(v for v in value if isinstance(v, str))
    texts.extend(text for line in sheet.lines for text in (line.name, line.sku))
    return texts


def _item(line: SheetLine) -> str:
    return f"{_t(line.name)}\n{_t(line.sku)}"


def invoice_pdf(sheet: InvoiceSheet) -> bytes:
    """The invoice as a PDF file's bytes."""
    pdf = _new_pdf(title=f"Invoice {sheet.invoice_number}", author=sheet.seller_name,
                   created=sheet.issued_at, texts=_texts(sheet))
    _heading(pdf, "Invoice", sheet.seller_name, sheet.seller_address)
    _facts(pdf, [("Invoice number", sheet.invoice_number), ("Order number", sheet.order_number),
                 ("Invoice date", date_text(sheet.issued_at)),
                 ("Order date", date_text(sheet.ordered_at)),
                 ("Payment", sheet.payment_method), ("Status", sheet.payment_status)])
    _block(pdf, "Bill to", sheet.buyer)
    _block(pdf, "Ship to", sheet.ship_to)

    money = functools.partial(money_text, currency=sheet.currency)
    pdf.set_font(_TEXT_FONT, "", 9)
    with pdf.table(col_widths=(64, 12, 28, 26, 24, 26), text_align=(
            "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"), headings_style=_HEADINGS,
            cell_fill_mode=TableCellFillMode.NONE, line_height=5) as table:
        table.row(["Item", "Qty", "Unit price", "Discount", "Tax", "Amount"])
        for line in sheet.lines:
            table.row([_item(line), str(line.quantity), money(line.unit_price),
                       money(-line.discount) if line.discount else "",
                       money(line.tax), money(line.line_total - line.discount)])
    pdf.ln(4)

    rows: list[tuple[str, str, bool]] = [("Subtotal", money(sheet.subtotal), False)]
    if sheet.discount_total:
        coupons = f" ({', '.join(sheet.coupons)})" if sheet.coupons else ""
        rows.append((f"Discounts{coupons}", money(-sheet.discount_total), False))
    if sheet.shipping_total or sheet.shipping_method:
        method = f" ({sheet.shipping_method})" if sheet.shipping_method else ""
        rows.append((f"Shipping{method}", money(sheet.shipping_total), False))
    if sheet.shipping_discount:
        rows.append(("Shipping discount", money(-sheet.shipping_discount), False))
    included = " (included in prices)" if sheet.prices_include_tax else ""
    for tax in sheet.taxes:
        rows.append((f"{tax.name} {tax.rate}%{included}", money(tax.amount), False))
    if sheet.tax_total or not sheet.taxes:
        rows.append((f"Tax total{included}", money(sheet.tax_total), False))
    rows.append(("Total", money(sheet.total), True))
    _totals(pdf, rows)
    return bytes(pdf.output())


def _totals(pdf: FPDF, rows: Sequence[tuple[str, str, bool]]) -> None:
    """The totals, right-aligned under the lines, the last one bold."""
    for label, amount, strong in rows:
        pdf.set_font(_TEXT_FONT, "B" if strong else "", 11 if strong else 10)
        pdf.set_x(pdf.l_margin + 70)
        pdf.cell(80, 6, _t(label), align="R")
        pdf.cell(30, 6, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def packing_slip_pdf(sheet: PackingSlipSheet) -> bytes:
    """The packing slip as a PDF file's bytes: no prices."""
    pdf = _new_pdf(title=f"Packing slip {sheet.order_number}", author=sheet.seller_name,
                   created=sheet.ordered_at, texts=_texts(sheet))
    _heading(pdf, "Packing slip", sheet.seller_name, ())
    _facts(pdf, [("Order number", sheet.order_number),
                 ("Order date", date_text(sheet.ordered_at)),
                 ("Shipping", sheet.shipping_method)])
    _block(pdf, "Ship to", sheet.ship_to)
    pdf.set_font(_TEXT_FONT, "", 10)
    with pdf.table(col_widths=(120, 40, 20), text_align=("LEFT", "LEFT", "RIGHT"),
                   headings_style=_HEADINGS, cell_fill_mode=TableCellFillMode.NONE,
                   line_height=5) as table:
        table.row(["Item", "SKU", "Qty"])
        for line in sheet.lines:
            table.row([_t(line.name), _t(line.sku), str(line.quantity)])
    return bytes(pdf.output())
