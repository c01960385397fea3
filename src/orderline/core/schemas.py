"""Shared pieces of request bodies."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orderline.core.text import strings_with_control_characters

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9 ()\-]{5,40}$"


class Body(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing; no string may hold
    a control character (``core.text``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: object) -> object:
        for where, character in strings_with_control_characters(data):
            raise ValueError(f"{where} holds the control character {character}; send text "
                             "without it")
        return data


class PatchBody(Body):
    """A body that changes what it names: a field left out keeps its value. ``null`` clears
    the fields in ``clearable`` (a limit, a date, an optional account detail); on any other
    field it is refused with a 422 naming the field, never taken as "unchanged" and never
    passed on to the database."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _null_only_where_it_clears(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("cannot be null; leave the field out to keep the current value")
        return value


# The largest integer both databases store (64-bit); bigger numbers in a query are refused.
STORED_INT_MAX = 2**63 - 1

Quantity = Annotated[StrictInt, Field(ge=1, le=10_000, description="1 to 10,000 units")]
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10**15,
                                        description="integer minor units, e.g. cents")]
Sku = Annotated[str, Field(min_length=1, max_length=100)]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable; listed in docs/errors.md")
    message: str = Field(description="one sentence for a person")
    details: dict[str, Any] = Field(description="what the code names: a field, a limit, an id")


class ErrorOut(BaseModel):
    """Every refusal, whatever its status: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail
