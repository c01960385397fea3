"""Money as integer minor units plus an ISO 4217 currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass

from orderline.core.errors import ValidationFailed

# Minor-unit exponents that differ from the usual 2 (ISO 4217).
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "IDR": 2, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3,
              "OMR": 3, "JOD": 3, "TND": 3}


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def check_currency(code: str) -> str:
    if len(code) != 3 or not code.isalpha() or not code.isupper():
        raise ValidationFailed(f"{code!r} is not an ISO 4217 currency code such as 'USD'.",
                               details={"currency": code})
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValidationFailed(f"Cannot combine {self.currency} with {other.currency}.")

    @staticmethod
    def zero(currency: str) -> Money:
        return Money(0, currency)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` by largest remainder.

    The parts always add up to ``total`` exactly; ties go to the earlier weight.
    """
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = [(total * w % weight_sum, -i) for i, w in enumerate(weights)]
    leftover = total - sum(shares)
    for _, neg_index in sorted(remainders, reverse=True)[:leftover]:
        shares[-neg_index] += 1
    return shares


MAX_MINOR_UNITS = 10**15  # the API's bound on a price (core.schemas.MinorUnits)


def major_units_text(amount: int, currency: str) -> str:
    """Minor units as a person types them, without grouping: ``major_units_text(1250, "USD")
    == "12.50"``, ``major_units_text(1500, "JPY") == "1500"``; what ``parse_major_units``
    reads back."""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    return sign + str(whole) + (f".{fraction:0{exponent}d}" if exponent else "")


def parse_major_units(text: str, currency: str) -> int:
    """A price typed in the currency's major units (``"12.50"`` USD) as minor units (1250).

    Strict on purpose, since a misread price is charged: digits, at most one ``.`` and no
    more decimals than the currency has (none for JPY, three for KWD). Grouping marks are
    refused rather than guessed, since ``1.250`` and ``1,250`` mean different amounts in
    different countries. Negative and too-large amounts are refused too."""
    exponent = currency_exponent(currency)
    value = text.strip()
    whole, dot, fraction = value.partition(".")
    example = "12" if exponent == 0 else "12." + "5".ljust(exponent, "0")
    digits = whole + fraction
    if not (digits.isascii() and digits.isdigit()) or (dot and not fraction):
        raise ValidationFailed(
            f"Enter the amount in {currency} as digits with a dot for any decimals, like "
            f"{example}.", details={"reason": "not_a_number", "example": example})
    if len(fraction) > exponent:
        raise ValidationFailed(
            f"{currency} amounts have {exponent} decimal places at most: like {example}.",
            details={"reason": "too_many_decimals", "decimals": exponent, "example": example})
    amount: int = int(whole or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount > MAX_MINOR_UNITS:
        raise ValidationFailed(
            f"That amount is too large: at most {major_units_text(MAX_MINOR_UNITS, currency)}.",
            details={"reason": "too_large"})
    return amount
