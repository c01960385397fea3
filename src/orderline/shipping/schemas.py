"""Shipping zone, shipping method and tax rate bodies.

The schemas bound sizes and types; the service checks meaning (country codes, rising weight
bands, a rate's decimals) so any caller gets the same rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from orderline.core.schemas import PHONE_PATTERN, Body, MinorUnits, PatchBody
from orderline.pricing.engine import ShippingKind
from orderline.shipping.rules import Address
from orderline.shipping.service import (
    MAX_METHOD_NAME,
    MAX_POSITION,
    MAX_RATE_NAME,
    MAX_WEIGHT_GRAMS,
    MAX_ZONE_NAME,
)

Position = Annotated[StrictInt, Field(ge=0, le=MAX_POSITION,
                                      description="lower comes first")]
Countries = Annotated[list[Annotated[str, Field(max_length=10)]],
                      Field(min_length=1, max_length=300,
                            description="ISO 3166-1 alpha-2 codes", examples=[["US", "CA"]])]
Regions = Annotated[list[Annotated[str, Field(max_length=200)]], Field(
    max_length=500, description="states or provinces as buyers write them; empty: all")]
PostalPrefixes = Annotated[list[Annotated[str, Field(max_length=40)]], Field(
    max_length=1000, description="postal-code prefixes (blanks and case ignored); empty: all")]
ZoneName = Annotated[str, Field(min_length=1, max_length=MAX_ZONE_NAME)]
MethodName = Annotated[str, Field(min_length=1, max_length=MAX_METHOD_NAME)]
RateName = Annotated[str, Field(min_length=1, max_length=MAX_RATE_NAME)]
# A decimal string ("8.25") or a JSON number; the service checks 0..100, 4 decimals at most.
RateValue = Annotated[Annotated[str, Field(max_length=30)] | StrictInt | StrictFloat, Field(
    description="a percentage: \"8.25\" is 8.25%", examples=["8.25"])]


class ZoneCreate(Body):
    name: ZoneName
    countries: Countries
    regions: Regions = Field(default_factory=list)
    postal_prefixes: PostalPrefixes = Field(default_factory=list)
    position: Position = 0


class ZoneUpdate(PatchBody):
    name: ZoneName | None = None
    countries: Countries | None = None
    regions: Regions | None = None
    postal_prefixes: PostalPrefixes | None = None
    position: Position | None = None


class WeightBandIn(Body):
    up_to_grams: Annotated[StrictInt, Field(ge=1, le=MAX_WEIGHT_GRAMS)]
    price: MinorUnits


WeightBands = Annotated[list[WeightBandIn], Field(
    max_length=100, description="for kind weight: lightest first, up_to_grams rising")]


class MethodCreate(Body):
    name: MethodName
    kind: ShippingKind
    price: MinorUnits = 0
    free_above: MinorUnits | None = Field(
        default=None, description="for kind free_above: shipping is free from this subtotal")
    weight_bands: WeightBands = Field(default_factory=list)
    active: StrictBool = True
    position: Position = 0


class MethodUpdate(PatchBody):
    clearable = frozenset({"free_above"})

    name: MethodName | None = None
    kind: ShippingKind | None = None
    price: MinorUnits | None = None
    free_above: MinorUnits | None = None  # null clears it
    weight_bands: WeightBands | None = None
    active: StrictBool | None = None
    position: Position | None = None


class TaxRateCreate(Body):
    name: RateName
    rate: RateValue
    applies_to_shipping: StrictBool = True


class TaxRateUpdate(PatchBody):
    name: RateName | None = None
    rate: RateValue | None = None
    applies_to_shipping: StrictBool | None = None


class WeightBandOut(BaseModel):
    up_to_grams: int
    price: int


class MethodOut(BaseModel):
    id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    kind: ShippingKind
    price: int
    free_above: int | None
    weight_bands: list[WeightBandOut]
    active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class TaxRateOut(BaseModel):
    id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    rate: str = Field(description="a percentage as a decimal string, such as \"8.25\"")
    applies_to_shipping: bool
    created_at: datetime
    updated_at: datetime


class ZoneOut(BaseModel):
    id: uuid.UUID
    name: str
    countries: list[str]
    regions: list[str]
    postal_prefixes: list[str]
    position: int
    created_at: datetime
    updated_at: datetime
    methods: list[MethodOut]
    tax_rates: list[TaxRateOut]


class ZoneList(BaseModel):
    data: list[ZoneOut]


# A delivery address, as a checkout and an order typed in by the merchant take it.
class AddressIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    line1: Annotated[str, Field(min_length=1, max_length=300)]
    line2: Annotated[str, Field(max_length=300)] = ""
    city: Annotated[str, Field(min_length=1, max_length=200)]
    region: Annotated[str, Field(max_length=100)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    country: Annotated[str, Field(min_length=2, max_length=2,
                                  description="ISO 3166-1 alpha-2, such as 'US'")]
    phone: Annotated[str | None, Field(pattern=PHONE_PATTERN)] = None

    def to_address(self) -> Address:
        return Address(name=self.name, line1=self.line1, line2=self.line2, city=self.city,
                       region=self.region, postal_code=self.postal_code,
                       country=self.country, phone=self.phone)
