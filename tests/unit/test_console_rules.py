"""The console's small decisions, without I/O: where a login may send you back to, the CSRF
comparison, and a use case's refusal turned into errors next to the fields."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from orderline.core.errors import NotFound, ValidationFailed
from orderline.web.console.access import csrf_matches, login_url, safe_next
from orderline.web.console.pages import form_errors
from orderline.web.pages import FieldError


@pytest.mark.parametrize("target", [
    "https://evil.example/console", "//evil.example/console", "/docs", "javascript:alert(1)",
    "/console\\@evil.example", "", None])
def test_a_login_never_sends_you_outside_the_console(target: str | None) -> None:
    assert safe_next(target) == "/console"


def test_a_login_sends_you_back_to_the_console_page_you_asked_for() -> None:
    assert safe_next("/console/orders?status=paid") == "/console/orders?status=paid"
    assert login_url("/console/orders?status=paid") == (
        "/console/login?next=/console/orders%3Fstatus%3Dpaid")
    assert login_url("/console") == "/console/login"


def test_a_csrf_token_must_be_given_and_equal() -> None:
    assert csrf_matches("token", "token")
    assert not csrf_matches("token", "")
    assert not csrf_matches("token", "tokem")


def test_a_refusal_naming_a_field_is_shown_next_to_the_pages_input() -> None:
    refusal = ValidationFailed("A price is a whole number of cents.",
                               details={"field": "price"})
    assert form_errors(refusal, fields={"price": "variant-price"}) == [
        FieldError("A price is a whole number of cents.", field="variant-price")]


def test_a_refusal_without_a_field_of_the_form_is_about_the_whole_form() -> None:
    refusal = ValidationFailed("Something about the order.", details={"field": "order"})
    assert form_errors(refusal, fields={"price": "price"}) == [
        FieldError("Something about the order.", field=None)]
    assert form_errors(NotFound("order", "x"))[0].field is None


def test_a_page_may_word_an_error_code_its_own_way() -> None:
    refusal = ValidationFailed("machine words", details={"field": "name"})
    assert form_errors(refusal, messages={"validation_error": "Enter a name."}) == [
        FieldError("Enter a name.", field="name")]


def test_a_models_validation_errors_land_on_their_fields_in_plain_words() -> None:
    class Line(BaseModel):
        sku: str = Field(min_length=1)
        quantity: int = Field(ge=1)

    with pytest.raises(ValidationError) as caught:
        Line(sku="", quantity=0)
    errors = form_errors(caught.value, fields={"quantity": "line-quantity"})
    assert [e.field for e in errors] == ["sku", "line-quantity"]
    assert all(e.message[0].isupper() and e.message.endswith(".") for e in errors)
