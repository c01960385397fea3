"""Reading a settings form: amounts typed as a merchant writes them become minor units of the
business's currency, a mistake names its field in the page's language, and a refusal lands
next to the field it is about."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from pydantic import ValidationError
from starlette.datastructures import FormData

from orderline.core.errors import NotFound, ValidationFailed
from orderline.tenancy.schemas import ApiKeyCreate
from orderline.web.console.settings_forms import Posted, field_errors, shown_amount


def posted(**values: str) -> Posted:
    return Posted(FormData(list(values.items())), lambda message: message)


def test_an_amount_becomes_minor_units_of_the_currency() -> None:
    form = posted(price="12.50", yen="1200", blank="")
    assert form.amount("price", "USD", label="The price") == 1250
    assert form.amount("yen", "JPY", label="The price") == 1200
    assert form.amount("blank", "USD", label="The price") is None
    assert shown_amount(1250, "USD") == "12.50" and shown_amount(1200, "JPY") == "1200"


@pytest.mark.parametrize("typed", ["12.505", "-1", "twelve", "NaN", "Infinity"])
def test_an_amount_that_is_not_one_is_refused_naming_its_field(typed: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        posted(price=typed).amount("price", "USD", label="The price")
    assert refused.value.details == {"field": "price"}
    assert refused.value.message == "The price must be an amount in USD, such as 12.50."


def test_a_mistake_is_said_in_the_page_language() -> None:
    form = Posted(FormData([("n", "x")]), {
        "%(label)s must be a whole number, such as 15.": "%(label)s harus bilangan bulat.",
        "Open cash orders": "Pesanan COD"}.get)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as refused:
        form.whole("n", label="Open cash orders")
    assert refused.value.message == "Pesanan COD harus bilangan bulat."


def test_a_refusal_lands_next_to_its_field() -> None:
    by_field = ValidationFailed("Bad.", details={"field": "weight_bands.0.price"})
    assert field_errors(by_field, fields=("weight_bands",))[0].field == "weight_bands"
    by_key = ValidationFailed("Bad.", details={"reservation_ttl_seconds": 1})
    assert field_errors(by_key, fields=("reservation_minutes",), aliases={
        "reservation_ttl_seconds": "reservation_minutes"})[0].field == "reservation_minutes"
    by_code = ValidationFailed("Bad.")
    assert field_errors(by_code, fields=("url",), by_code={"validation_error": "url"})[
        0].field == "url"
    assert field_errors(by_code, fields=("url",))[0].field is None
    with pytest.raises(ValidationError) as invalid:
        ApiKeyCreate.model_validate({"name": "", "scopes": ["read"]})
    [error] = field_errors(invalid.value, fields=("key_name",), aliases={"name": "key_name"})
    assert error.field == "key_name"


def test_another_business_id_is_the_404_page_not_a_form_error() -> None:
    with pytest.raises(HTTPException) as page:
        field_errors(NotFound("coupon", "x"), fields=())
    assert page.value.status_code == 404
