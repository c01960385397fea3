"""Reading the hosted checkout's forms, and saying what is wrong with them next to the field.

The details form is read into the API's own body (``CheckoutCreate``), so the page refuses
exactly what ``POST /v1/checkouts`` refuses (lengths, patterns, control characters such as
NUL); a refused field gets a plain sentence here, a refusal of a use case its sentence from
``refusals``. The other fields (a quantity, the confirm's key and total, a one-time code) are
checked here: a value that is not plainly what the field asks for is a 422 page, never a 500.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from orderline.checkout.checkout_schemas import CheckoutCreate
from orderline.core.errors import DomainError
from orderline.web.buyer.refusals import sentence_for
from orderline.web.pages import FieldError
from orderline.web.translations import translations_for


def _(message: str) -> str:
    return message


# The details form's inputs (their ids are the same names), in the page's order.
DETAIL_FIELDS = ("name", "phone", "email", "line1", "line2", "city", "region", "postal_code",
                 "country", "shipping_method_id", "coupon", "payment_method")
MAX_FIELD = 400  # no input of these forms takes more; longer is refused before parsing

FIELD_SENTENCES = {
    "name": _("Enter your name, as the courier should read it."),
    "phone": _("Enter a phone number with digits only (and +, spaces or dashes), like "
               "+62 812 3456 7890."),
    "email": _("Enter an email address like name@example.com, or leave it empty."),
    "line1": _("Enter the street and number."),
    "line2": _("Shorten the second address line."),
    "city": _("Enter the town or city."),
    "region": _("Shorten the region."),
    "postal_code": _("Enter a postal code of at most 20 characters."),
    "country": _("Choose the country."),
    "shipping_method_id": _("Choose a delivery option."),
    "coupon": _("Enter the coupon code as it is written, or leave it empty."),
    "payment_method": _("Choose how you want to pay."),
    "quantity": _("Enter a quantity of 1 or more, in digits."),
    "code": _("Enter the 6 digits of the code we sent."),
    "form": _("This form holds characters we cannot take. Check what you typed."),
}

# Where each refusal belongs on the details form (its input's id).
_FIELD_OF_CODE = {
    "undeliverable_address": "country", "shipping_method_unavailable": "shipping_method_id",
    "payment_method_unavailable": "payment_method",
}
_API_FIELDS = {"address.name": "name", "address.line1": "line1", "address.line2": "line2",
               "address.city": "city", "address.region": "region",
               "address.postal_code": "postal_code", "address.country": "country",
               "address.phone": "phone", "customer.name": "name", "customer.phone": "phone",
               "customer.email": "email", "customer": "phone", "coupon_codes": "coupon",
               "payment_method": "payment_method", "shipping_method_id": "shipping_method_id"}


class FormRefused(Exception):
    """A form the page refuses before any use case runs; ``errors`` say why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def field_sentence(field: str, locale: str) -> str:
    return translations_for(locale).gettext(FIELD_SENTENCES[field])


def text(form: FormData, name: str, locale: str, *, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > limit or "\x00" in value:
        key = name if name in FIELD_SENTENCES else "form"
        raise FormRefused([FieldError(field_sentence(key, locale),
                                      field=name if name in FIELD_SENTENCES else None)])
    return value.strip()


def details_of(form: FormData, locale: str) -> dict[str, str]:
    """What the buyer typed, to show again (each value checked for length and NUL)."""
    return {name: text(form, name, locale) for name in DETAIL_FIELDS}


def checkout_body(cart_id: uuid.UUID, details: dict[str, str], locale: str) -> CheckoutCreate:
    """The API's body for these details; a field it refuses is a ``FormRefused``."""
    customer: dict[str, Any] = {"name": details["name"], "phone": details["phone"] or None,
                                "email": details["email"] or None}
    body = {"cart_id": str(cart_id), "customer": customer,
            "address": {"name": details["name"], "line1": details["line1"],
                        "line2": details["line2"], "city": details["city"],
                        "region": details["region"], "postal_code": details["postal_code"],
                        "country": details["country"].upper()},
            "shipping_method_id": details["shipping_method_id"] or None,
            "payment_method": details["payment_method"],
            "coupon_codes": [details["coupon"]] if details["coupon"] else []}
    try:
        return CheckoutCreate.model_validate(body)
    except ValidationError as error:
        raise FormRefused(_validation_errors(error, locale)) from None


def _validation_errors(error: ValidationError, locale: str) -> list[FieldError]:
    found: list[FieldError] = []
    for problem in error.errors():
        names = [str(p) for p in problem.get("loc", ()) if not isinstance(p, int)]
        dotted = ".".join(names)
        field = _API_FIELDS.get(dotted) or _API_FIELDS.get(names[0] if names else "")
        if field is None:
            item = FieldError(field_sentence("form", locale))
        else:
            item = FieldError(field_sentence(field, locale), field=field)
        if item not in found:
            found.append(item)
    return found


def refusal_errors(error: DomainError, locale: str) -> list[FieldError]:
    """A use case's refusal on the details form: its sentence, next to its field."""
    field = _FIELD_OF_CODE.get(error.code)
    if error.code.startswith("coupon_") or error.code == "invalid_coupon":
        field = "coupon"
    elif error.code.startswith("cod_"):
        field = "payment_method"
    elif error.code == "validation_error":
        named = error.details.get("field")
        field = _API_FIELDS.get(str(named)) if named else None
        if field is not None:
            return [FieldError(field_sentence(field, locale), field=field)]
    return [FieldError(sentence_for(error.code, locale, error.details), field=field)]


_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def new_attempt_key() -> str:
    """The confirm's Idempotency-Key, made once when the review renders."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class ConfirmForm:
    key: str
    total: int


def confirm_form(form: FormData, locale: str) -> ConfirmForm:
    key = text(form, "key", locale, limit=64)
    total = text(form, "total", locale, limit=18)
    if not _KEY.match(key) or not (total.isascii() and total.isdigit()):
        raise FormRefused([FieldError(sentence_for("idempotency_key_required", locale))])
    return ConfirmForm(key=key, total=int(total))


def quantity_of(form: FormData, locale: str) -> int:
    raw = text(form, "quantity", locale, limit=6)
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise FormRefused([FieldError(field_sentence("quantity", locale), field="quantity")])
    return int(raw)


def code_of(form: FormData, locale: str) -> str:
    raw = "".join(text(form, "code", locale, limit=20).split())
    if not (raw.isascii() and raw.isdigit() and len(raw) == 6):
        raise FormRefused([FieldError(field_sentence("code", locale), field="code")])
    return raw
