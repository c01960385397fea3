"""Reading the numbers people type into the stock and catalog forms: whole quantities and
prices in the currency's major units. A value that is not plainly what the field asks for is
a ``FormProblem`` naming the field and what to write instead, never a guess.

The sentences are here (not in the templates) because they go to the error summary and
beside the field; ``problem_message`` puts them in the page's language from the console's
catalogs (``locale/*/LC_MESSAGES/console-stock.po``).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from orderline.core.errors import DomainError, ValidationFailed
from orderline.core.money import parse_major_units
from orderline.web.console.pages import form_errors, translated
from orderline.web.pages import FieldError


def _(message: str) -> str:
    """Marks a message for the catalogs; ``problem_message`` translates it when shown."""
    return message


# What each problem says, in English; the translations are in console-stock.po.
MESSAGES = {
    "whole_number": _("Enter a whole number, like 5"),
    "positive": _("Enter a number of 0 or more"),
    "nonzero": _("Enter a change other than 0: a negative number removes units"),
    "too_large": _("That number is too large"),
    "choose_reason": _("Choose why the stock changes"),
    "price_not_a_number": _("Enter the price in numbers, with a dot for any decimals, like "
                            "%(example)s"),
    "price_too_many_decimals": _("This currency has %(decimals)s decimal places at most, like "
                                 "%(example)s"),
    "price_too_large": _("That price is too large"),
    "price_missing": _("Enter a price"),
    "name_missing": _("Enter a name"),
    "sku_missing": _("Enter a SKU"),
    "erase_confirm": _("Type the customer's name exactly as it is shown"),
}


class FormProblem(Exception):
    """What is wrong with one field of a form: ``key`` names the sentence in ``MESSAGES``."""

    def __init__(self, field: str, key: str, **values: Any) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key
        self.values = values


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def whole_number(text: str, *, field: str, minimum: int, maximum: int, signed: bool = False,
                 nonzero: bool = False) -> int:
    """An integer typed in a field: digits, with a leading ``-`` (or ``+``) when ``signed``."""
    digits = text.strip()
    sign = 1
    if signed and digits[:1] in {"-", "+", "\u2212"}:
        sign = -1 if digits[0] != "+" else 1
        digits = digits[1:].strip()
    if not (digits.isascii() and digits.isdigit()):
        raise FormProblem(field, "whole_number")
    value = sign * int(digits)
    if value < minimum:
        raise FormProblem(field, "positive")
    if value > maximum or value < -maximum:
        raise FormProblem(field, "too_large")
    if nonzero and value == 0:
        raise FormProblem(field, "nonzero")
    return value


def price(text: str, currency: str, *, field: str) -> int:
    """A price typed in major units ("12.50") as minor units, or the field's problem."""
    if not text.strip():
        raise FormProblem(field, "price_missing")
    try:
        return parse_major_units(text, currency)
    except ValidationFailed as refused:
        details = refused.details
        raise FormProblem(field, "price_" + str(details.get("reason")),
                          example=details.get("example", ""),
                          decimals=details.get("decimals", "")) from None


def optional_threshold(text: str, *, field: str) -> int | None:
    """A low-stock threshold: empty for none."""
    if not text.strip():
        return None
    return whole_number(text, field=field, minimum=0, maximum=1_000_000_000)


# The use cases' refusals these forms meet, in plain words (else the refusal's own sentence).
REFUSALS = {
    "conflict": _("This SKU is already used by another variant of your shop"),
    "insufficient_stock": _("That would leave fewer units than are held for orders: "
                            "%(available)s are free to remove"),
    "customer_has_open_orders": _("Some of their orders are still open (%(orders)s): deliver or "
                                  "cancel them first, then erase"),
}


def refusal_errors(request: Request, refused: Exception, *, field: str) -> list[FieldError]:
    """A refused form's errors: a ``FormProblem`` next to its own field, a use case's refusal
    next to ``field`` unless it names a field of its own."""
    if isinstance(refused, FormProblem):
        return [FieldError(translated(request, MESSAGES[refused.key], **refused.values),
                           field=refused.field)]
    assert isinstance(refused, DomainError)
    wording = {}
    if refused.code in REFUSALS:
        values = {"available": refused.details.get("available", 0),
                  "orders": ", ".join(map(str, refused.details.get("orders", [])))}
        wording[refused.code] = translated(request, REFUSALS[refused.code], **values)
    return [FieldError(e.message, field=e.field or field)
            for e in form_errors(refused, messages=wording)]
